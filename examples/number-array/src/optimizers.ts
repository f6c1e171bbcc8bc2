import {
  type Algorithm,
  AsyncScheduleFreeClosureOptimizer,
  AsyncScheduleFreeOptimizer,
  type ParamsInput,
  ScheduleFreeClosureOptimizer,
  ScheduleFreeOptimizer,
  scheduleFreeAlgorithms,
} from '@schedulefree/core';
import { type NumberArray, numberArrayBackend } from './backend.js';

/**
 * The idiomatic face of the adapter: one optimizer per registered algorithm, synchronous over the
 * plain backend and asynchronous over the deferred one. Nothing here re-implements the engine; the
 * core's façades are subclassed only to say how parameters come out (plain arrays).
 */

/** Parameters: name → number[] (or groups `{ params, ...options }`). */
export type NumberArrayParams = ParamsInput<NumberArray, object>;

/** A synchronous optimizer whose parameters hold y in train mode and x in eval mode. */
export class NumberArrayOptimizer<O extends object> extends ScheduleFreeOptimizer<NumberArray, O> {}

/** A synchronous closure optimizer (parameters hold x between steps). */
export class NumberArrayClosureOptimizer<O extends object> extends ScheduleFreeClosureOptimizer<
  NumberArray,
  O
> {}

/** The asynchronous optimizer over the deferred backend. */
export class DeferredOptimizer<O extends object> extends AsyncScheduleFreeOptimizer<NumberArray, O> {
  /** The parameters as they are after the calls that have taken effect. */
  get params(): Readonly<Record<string, NumberArray>> {
    return this.engine.params;
  }
  /** x, once the calls made before this one have taken effect. */
  evalParams(): Promise<Record<string, NumberArray>> {
    return this.evalParamTensors();
  }
}

/** The asynchronous closure optimizer over the deferred backend. */
export class DeferredClosureOptimizer<O extends object> extends AsyncScheduleFreeClosureOptimizer<
  NumberArray,
  O
> {
  get params(): Readonly<Record<string, NumberArray>> {
    return this.engine.params;
  }
  evalParams(): Promise<Record<string, NumberArray>> {
    return this.evalParamTensors();
  }
}

/** Any algorithm (a core class's, a wrapper's, your own) over number arrays. */
export function optimizerFor(
  algorithm: Algorithm<object>,
  params: NumberArrayParams,
  options: Record<string, unknown> = {},
  deferred = false,
) {
  const backend = numberArrayBackend({ deferred });
  const closure = algorithm.kind === 'closure';
  if (deferred) {
    return closure
      ? new DeferredClosureOptimizer(algorithm, backend, params, options)
      : new DeferredOptimizer(algorithm, backend, params, options);
  }
  return closure
    ? new NumberArrayClosureOptimizer(algorithm, backend, params, options)
    : new NumberArrayOptimizer(algorithm, backend, params, options);
}

/** The names of the registered Schedule-Free classes. */
export type ClassName = keyof typeof scheduleFreeAlgorithms;

/** `create('AdamWScheduleFree', { w: [0, 1] }, { lr: 0.01 })`: a class of the registry by name. */
export function create(name: ClassName, params: NumberArrayParams, options: Record<string, unknown> = {}) {
  return optimizerFor(scheduleFreeAlgorithms[name] as Algorithm<object>, params, options);
}
