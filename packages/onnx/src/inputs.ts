import { allFinite, check, checkGradRecord, type ParamsInput } from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { describeUnusable, hostData, onHost, sizeOf, type TensorInput } from './runtime.js';

/**
 * Checks of what users pass in: engine options, parameter groups and gradient records. Messages
 * follow the core engine's, naming the parameter and the fix.
 */

/** Where parameters and optimizer state live between steps. */
export type StateLocation = 'cpu' | 'gpu-buffer';

/** Options of the optimizer object (besides the algorithm's hyperparameters). */
export interface OnnxEngineOptions {
  /**
   * Execution providers of every session, e.g. `['wasm']`, `['webgpu']`, `['cpu']`. Default: the
   * runtime's default (wasm for onnxruntime-web, cpu for onnxruntime-node).
   */
  executionProviders?: InferenceSession.SessionOptions['executionProviders'];
  /** Further session options (graph optimization level, threads, logging, …). */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders' | 'preferredOutputLocation'>;
  /**
   * Where parameters and state stay between steps. Default `'gpu-buffer'` when the first execution
   * provider is WebGPU (nothing is read back per step), else `'cpu'`.
   */
  stateLocation?: StateLocation;
  /**
   * What a NaN or ±Infinity in a gradient does: `'throw'` (default) raises `NON_FINITE_GRAD`;
   * `'skip'` skips the whole step and `step` resolves to false. Gradients already on the GPU are
   * checked inside the step graph (one number per group is read back).
   */
  nonFiniteGrads?: 'throw' | 'skip';
}

/** Parameters: a record name → tensor, or groups each with their own option overrides. */
export type OnnxParams<O> = ParamsInput<TensorInput, O>;

/** Constructor options: the algorithm's options plus {@link OnnxEngineOptions}. */
export type OnnxOptimizerOptions<O> = Partial<O> & OnnxEngineOptions;

const ENGINE_KEYS: readonly string[] = [
  'executionProviders',
  'sessionOptions',
  'stateLocation',
  'nonFiniteGrads',
];

/** Engine options checked and resolved, and the rest (the algorithm's options). */
export interface ParsedOptions {
  readonly algorithmOptions: Record<string, unknown>;
  readonly nonFiniteGrads: 'throw' | 'skip';
  readonly location: StateLocation;
  readonly sessionOptions: InferenceSession.SessionOptions;
}

export function parseOptions(where: string, options: OnnxEngineOptions): ParsedOptions {
  check(
    options !== null && typeof options === 'object' && !Array.isArray(options),
    'INVALID_OPTION',
    () => `${where}: options must be an object such as { lr: 0.01 }.`,
  );
  const algorithmOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!ENGINE_KEYS.includes(k)) algorithmOptions[k] = v;
  const { nonFiniteGrads = 'throw', executionProviders, sessionOptions = {}, stateLocation } = options;
  check(
    nonFiniteGrads === 'throw' || nonFiniteGrads === 'skip',
    'INVALID_OPTION',
    () =>
      `${where}: option "nonFiniteGrads" must be 'throw' or 'skip', got ${JSON.stringify(nonFiniteGrads)}.`,
  );
  check(
    executionProviders === undefined || Array.isArray(executionProviders),
    'INVALID_OPTION',
    () => `${where}: option "executionProviders" must be an array such as ['wasm'] or ['webgpu'].`,
  );
  const firstEp = executionProviders?.[0];
  const firstName = typeof firstEp === 'string' ? firstEp : firstEp?.name;
  const location = stateLocation ?? (firstName === 'webgpu' ? 'gpu-buffer' : 'cpu');
  check(
    location === 'cpu' || (location === 'gpu-buffer' && firstName === 'webgpu'),
    'INVALID_OPTION',
    () =>
      `${where}: option "stateLocation" must be 'cpu', or 'gpu-buffer' with executionProviders: ['webgpu']; got ${JSON.stringify(stateLocation)} with ${JSON.stringify(firstName ?? 'the default provider')}.`,
  );
  return {
    algorithmOptions,
    nonFiniteGrads,
    location,
    sessionOptions: { ...sessionOptions, ...(executionProviders ? { executionProviders } : {}) },
  };
}

/** Checks one parameter tensor at creation; returns its size. */
export function checkParam(where: string, name: string, tensor: unknown): number {
  const problem = describeUnusable(tensor);
  check(problem === null, 'INVALID_PARAMS', () => `${where}: parameter "${name}": ${problem}.`);
  const size = sizeOf(tensor as TensorInput);
  check(size > 0, 'INVALID_PARAMS', () => `${where}: parameter "${name}" has no elements.`);
  return size;
}

/**
 * Checks a gradient record with the core's rules (known names, one per parameter, sizes, finite
 * values), adding what is particular to ONNX Runtime: float32 tensors, and device gradients only
 * for optimizers that live on the device (those are checked for NaN/Inf inside the step graph).
 * Returns false when the step must be skipped (non-finite with `nonFiniteGrads: 'skip'`).
 */
export function checkGrads(
  where: string,
  params: ReadonlyMap<string, { readonly size: number }>,
  grads: Readonly<Record<string, TensorInput>>,
  options: { readonly location: StateLocation; readonly nonFiniteGrads: 'throw' | 'skip' },
): boolean {
  return checkGradRecord(
    where,
    params,
    grads,
    {
      problem: (_name, grad) =>
        describeUnusable(grad) ??
        (onHost(grad) || options.location === 'gpu-buffer'
          ? null
          : `it is a 'gpu-buffer' tensor, but this optimizer runs on the CPU; pass host data, or create the optimizer with executionProviders: ['webgpu']`),
      size: sizeOf,
      finite: (_name, grad) => (onHost(grad) ? allFinite(hostData(grad)) : null),
    },
    options.nonFiniteGrads,
  );
}
