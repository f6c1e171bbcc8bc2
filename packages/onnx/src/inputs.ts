import { check } from '@schedulefree/core';
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
export type OnnxParams<O> =
  | Readonly<Record<string, TensorInput>>
  | ReadonlyArray<{ params: Readonly<Record<string, TensorInput>> } & Partial<O>>;

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

/** Splits the `params` argument into groups of tensors and option overrides. */
export function normalizeGroups<O>(
  where: string,
  params: OnnxParams<O>,
): Array<{ params: Readonly<Record<string, TensorInput>>; overrides: Partial<O> }> {
  check(
    params != null && typeof params === 'object' && !ArrayBuffer.isView(params),
    'INVALID_PARAMS',
    () => `${where}: params must be a record name → tensor or an array of groups { params, ...options }.`,
  );
  const groups = Array.isArray(params)
    ? (params as ReadonlyArray<{ params: Readonly<Record<string, TensorInput>> } & Partial<O>>).map(
        (g, gi) => {
          check(
            g && typeof g === 'object' && g.params && typeof g.params === 'object',
            'INVALID_PARAMS',
            () =>
              `${where}: param group ${gi} must be an object { params: { name: tensor, ... }, ...options }.`,
          );
          const { params: p, ...overrides } = g;
          return { params: p, overrides: overrides as Partial<O> };
        },
      )
    : [{ params: params as Readonly<Record<string, TensorInput>>, overrides: {} as Partial<O> }];
  check(groups.length > 0, 'INVALID_PARAMS', () => `${where}: no parameter groups were given.`);
  for (const [gi, g] of groups.entries()) {
    check(
      Object.keys(g.params).length > 0,
      'INVALID_PARAMS',
      () => `${where}: param group ${gi} has no parameters.`,
    );
  }
  return groups;
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
 * Checks a gradient record: known names only, one per parameter, float32, matching sizes, a
 * location the optimizer can read, finite host values. Returns false when the step must be skipped
 * (non-finite with `nonFiniteGrads: 'skip'`). Device gradients are checked in the graph instead.
 */
export function checkGrads(
  where: string,
  params: ReadonlyMap<string, { readonly size: number }>,
  grads: Readonly<Record<string, TensorInput>>,
  options: { readonly location: StateLocation; readonly nonFiniteGrads: 'throw' | 'skip' },
): boolean {
  check(
    grads !== null && typeof grads === 'object' && !ArrayBuffer.isView(grads) && !Array.isArray(grads),
    'MISSING_GRAD',
    () => `${where}: expected a record of gradients keyed by parameter name, got ${describe(grads)}.`,
  );
  for (const name of Object.keys(grads)) {
    check(
      params.has(name),
      'UNKNOWN_PARAM',
      () =>
        `${where}: gradient "${name}" does not match any parameter. Parameters are: ${[...params.keys()].join(', ')}.`,
    );
  }
  let finite = true;
  for (const [name, p] of params) {
    const grad = grads[name];
    check(
      grad != null,
      'MISSING_GRAD',
      () =>
        `${where}: no gradient for parameter "${name}". Pass a gradient for every parameter (zeros for one that did not contribute).`,
    );
    const problem = describeUnusable(grad);
    check(problem === null, 'DTYPE_MISMATCH', () => `${where}: gradient "${name}": ${problem}.`);
    const size = sizeOf(grad);
    check(
      size === p.size,
      'SHAPE_MISMATCH',
      () => `${where}: gradient "${name}" has ${size} elements but the parameter has ${p.size}.`,
    );
    check(
      onHost(grad) || options.location === 'gpu-buffer',
      'DTYPE_MISMATCH',
      () =>
        `${where}: gradient "${name}" is a 'gpu-buffer' tensor, but this optimizer runs on the CPU; pass host data, or create the optimizer with executionProviders: ['webgpu'].`,
    );
    if (finite && onHost(grad) && !allFinite(hostData(grad))) {
      check(options.nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () => nonFiniteMessage(where, `"${name}"`));
      finite = false;
    }
  }
  return finite;
}

/** The message of a `NON_FINITE_GRAD` error. */
export const nonFiniteMessage = (where: string, what: string): string =>
  `${where}: gradient ${what} contains NaN or Infinity; nothing was changed. Fix the loss or clip the gradients, or pass { nonFiniteGrads: 'skip' } to skip such steps.`;

/** True when every element is finite: x·0 is 0 for finite x and NaN otherwise. */
function allFinite(a: Float32Array): boolean {
  // Four independent sums keep the adds from waiting on each other (this runs on every step).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length;
  const whole = n - (n % 4);
  let i = 0;
  for (; i < whole; i += 4) {
    s0 += a[i] * 0;
    s1 += a[i + 1] * 0;
    s2 += a[i + 2] * 0;
    s3 += a[i + 3] * 0;
  }
  for (; i < n; i++) s0 += a[i] * 0;
  return s0 + s1 + s2 + s3 === 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
