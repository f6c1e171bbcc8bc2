import { type Algorithm, check, type EngineOptions, splitEngineOptions } from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';
import type { KernelMode } from './backend.js';

/**
 * Options of the optimizer object itself, on top of the algorithm's hyperparameters: the engine's
 * (`nonFiniteGrads`, `omittedGrads`) and these.
 */
export interface TfjsEngineOptions extends EngineOptions {
  /**
   * Check every gradient for NaN/Infinity before anything changes. On cpu and wasm the check is one
   * pass over host memory; on webgl it is one reduction and one GPU→CPU read per step for all
   * variables. With false, a non-finite gradient silently corrupts the state.
   *
   * Unset (the default) means: check wherever a step can read a result synchronously, i.e. on every
   * backend but webgpu. The webgpu backend has no reliable synchronous GPU→CPU read, so there the
   * synchronous `minimize`/`applyGradients` (and `fit`) do not check, and warn once; the
   * asynchronous `minimizeAsync`/`applyGradientsAsync` check exactly. An explicit `true` makes a
   * synchronous step on webgpu throw `UNSUPPORTED` (nothing changed) instead of going unchecked.
   */
  checkFinite?: boolean;
  /**
   * `'fused'` (default): each variable's update runs as one kernel (one pass over memory) on the
   * cpu, wasm, webgl and webgpu backends (on webgpu in place, when no other tensor shares the
   * variables' storage); elsewhere, and with `'ops'`, as a chain of tfjs ops.
   */
  kernels?: KernelMode;
}

/** Picks variables for a parameter group: an exact variable name, a pattern on names, or the variable. */
export type VariableSelector = string | RegExp | tf.Variable;

/** A parameter group: which variables, and the hyperparameters that differ from the top level. */
export type ParamGroupSpec<O> = Partial<O> & { params: readonly VariableSelector[] };

/**
 * Constructor options of the tfjs Schedule-Free optimizers: the algorithm's hyperparameters
 * (camelCase, defaults as in the reference package), engine options, and optional parameter
 * groups. Variables not selected by any group use the top-level options.
 */
export type TfjsOptimizerOptions<O> = Partial<O> &
  TfjsEngineOptions & {
    /** Groups of variables with their own hyperparameters (e.g. `{ params: [/bias/], weightDecay: 0 }`). */
    paramGroups?: ReadonlyArray<ParamGroupSpec<O>>;
  };

/** The checked pieces of {@link TfjsOptimizerOptions}. */
export interface ParsedOptions<O> {
  /** Top-level hyperparameters with defaults filled in. */
  config: O;
  engine: Required<EngineOptions> & {
    /** `undefined`: check where a synchronous check is possible (see {@link TfjsEngineOptions.checkFinite}). */
    checkFinite: boolean | undefined;
    kernels: KernelMode;
  };
  groups: ReadonlyArray<ParamGroupSpec<O>>;
}

/** Splits and validates constructor options; throws `INVALID_OPTION` naming the option. */
export function parseOptions<O extends object>(
  algorithm: Algorithm<O>,
  options: TfjsOptimizerOptions<O> | undefined,
): ParsedOptions<O> {
  const where = algorithm.name;
  const { engine, rest: given } = splitEngineOptions(options, where);
  const {
    checkFinite,
    kernels = 'fused',
    paramGroups = [],
    ...rest
  } = given as Omit<TfjsOptimizerOptions<O>, keyof EngineOptions> & Record<string, unknown>;
  check(
    checkFinite === undefined || typeof checkFinite === 'boolean',
    'INVALID_OPTION',
    () => `${where}: option "checkFinite" must be true or false, got ${JSON.stringify(checkFinite)}.`,
  );
  check(
    kernels === 'fused' || kernels === 'ops',
    'INVALID_OPTION',
    () => `${where}: option "kernels" must be 'fused' or 'ops', got ${JSON.stringify(kernels)}.`,
  );
  const config = { ...algorithm.defaults, ...withoutUndefined(rest) } as O;
  algorithm.validate(config as Record<string, unknown>, where);
  check(
    Array.isArray(paramGroups),
    'INVALID_OPTION',
    () => `${where}: option "paramGroups" must be an array of { params: [...], ...options }.`,
  );
  paramGroups.forEach((group, gi) => {
    check(
      group !== null && typeof group === 'object' && Array.isArray(group.params) && group.params.length > 0,
      'INVALID_OPTION',
      () =>
        `${where}: paramGroups[${gi}] must be { params: [names, patterns or variables], ...options } with at least one entry.`,
    );
    const { params: _params, ...overrides } = group as ParamGroupSpec<O> & Record<string, unknown>;
    algorithm.validate({ ...config, ...withoutUndefined(overrides) }, `${where} (paramGroups[${gi}])`);
  });
  return { config, engine: { ...engine, checkFinite, kernels }, groups: paramGroups };
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
