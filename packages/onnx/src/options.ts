import { check, type ParamsInput } from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { describeUnusable, sizeOf, type TensorInput } from './runtime.js';

/**
 * The options of the ONNX optimizers besides the algorithm's, and the checks of parameters made
 * before the engine sees them (device parameters are read to the host first).
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
   * checked inside the step graph (one number per group is read back); `'unchecked'` skips the
   * check and that read-back (a non-finite gradient then corrupts the state).
   */
  nonFiniteGrads?: 'throw' | 'skip' | 'unchecked';
}

/** Parameters: a record name → tensor, or groups each with their own option overrides. */
export type OnnxParams<O> = ParamsInput<TensorInput, O>;

/** Constructor options: the algorithm's options plus {@link OnnxEngineOptions}. */
export type OnnxOptimizerOptions<O> = Partial<O> & OnnxEngineOptions;

/** Options of this package's optimizer objects; every other option goes to the core's engine. */
const ONNX_KEYS: readonly string[] = ['executionProviders', 'sessionOptions', 'stateLocation'];

/** The options split into the ONNX Runtime ones, checked and resolved, and the engine's. */
export interface ParsedOptions {
  /** The algorithm's options and `nonFiniteGrads`, checked by the engine. */
  readonly engineOptions: Record<string, unknown>;
  readonly location: StateLocation;
  readonly sessionOptions: InferenceSession.SessionOptions;
}

export function parseOptions(where: string, options: OnnxEngineOptions): ParsedOptions {
  check(
    options !== null && typeof options === 'object' && !Array.isArray(options),
    'INVALID_OPTION',
    () => `${where}: options must be an object such as { lr: 0.01 }.`,
  );
  const engineOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!ONNX_KEYS.includes(k)) engineOptions[k] = v;
  const { executionProviders, sessionOptions = {}, stateLocation } = options;
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
    engineOptions,
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
