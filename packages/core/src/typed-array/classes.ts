import type { Algorithm } from '../algorithm.js';
import {
  AdamWScheduleFreeAlgorithm,
  AdamWScheduleFreeClosureAlgorithm,
  type AdamWScheduleFreeClosureOptions,
  type AdamWScheduleFreeOptions,
  AdamWScheduleFreePaperAlgorithm,
  type AdamWScheduleFreePaperOptions,
  AdamWScheduleFreeReferenceAlgorithm,
  type AdamWScheduleFreeReferenceOptions,
  RAdamScheduleFreeAlgorithm,
  RAdamScheduleFreeClosureAlgorithm,
  type RAdamScheduleFreeOptions,
  SGDScheduleFreeAlgorithm,
  SGDScheduleFreeClosureAlgorithm,
  type SGDScheduleFreeOptions,
  SGDScheduleFreeReferenceAlgorithm,
} from '../algorithms/definitions.js';
import {
  AdamCScheduleFreePlusPaperAlgorithm,
  type AdamCScheduleFreePlusPaperOptions,
} from '../algorithms/schedule-free-plus.js';
import type { Backend } from '../backend.js';
import { optionsObject } from '../engine/engine.js';
import { check } from '../errors.js';
import type { ParamsInput } from '../inputs.js';
import { type EngineOptions, ScheduleFreeClosureOptimizer, ScheduleFreeOptimizer } from '../optimizer.js';
import { type TypedArrayExecution, typedArrayBackend } from './backend.js';
import type { TypedArray } from './ops.js';

/** Parameters of the typed-array optimizers: name → Float32Array | Float64Array, or groups. */
export type TypedArrayParams<O> = ParamsInput<TypedArray, O>;

/** Constructor options of the typed-array optimizers: the algorithm's options plus engine options. */
export type TypedArrayOptions<O> = Partial<O> &
  EngineOptions & {
    /**
     * How steps execute. The default, `'wasm'`, runs Float32Array parameters as a WebAssembly SIMD
     * kernel (float32 arithmetic) and Float64Array parameters, or any parameter where the engine
     * lacks wasm SIMD, as the fused JavaScript loop (float64 arithmetic); `'fused'` selects that loop
     * for both. `'eager'` (one pass per operation) and `'trace'` (the IR interpreter) are for tests.
     */
    execution?: TypedArrayExecution;
  };

/**
 * The typed-array backend for an `execution` option, checked: `'wasm'` by default (on float32 data
 * the SIMD kernel is several times faster than the JavaScript loop; float64 data and engines without
 * SIMD fall back to the loop). `where` names the optimizer in the error message.
 */
export function typedArrayBackendFor(where: string, execution: unknown = 'wasm'): Backend<TypedArray> {
  check(
    execution === 'fused' || execution === 'wasm' || execution === 'eager' || execution === 'trace',
    'INVALID_OPTION',
    () =>
      `${where}: option "execution" must be 'fused', 'wasm', 'eager' or 'trace', got ${JSON.stringify(execution)}.`,
  );
  return typedArrayBackend(execution);
}

/** The engine constructor arguments for a typed-array optimizer. */
function typedArrayArgs<O extends object>(
  algorithm: Algorithm<O>,
  params: TypedArrayParams<O>,
  options: TypedArrayOptions<O> = {},
): [Algorithm<O>, Backend<TypedArray>, TypedArrayParams<O>, Partial<O> & EngineOptions] {
  const { execution, ...rest } = optionsObject(options, algorithm.name) as TypedArrayOptions<O>;
  return [
    algorithm,
    typedArrayBackendFor(algorithm.name, execution),
    params,
    rest as Partial<O> & EngineOptions,
  ];
}

/** Schedule-Free SGD over typed arrays. Parameters hold y in train mode, x in eval mode. */
export class SGDScheduleFree extends ScheduleFreeOptimizer<TypedArray, SGDScheduleFreeOptions> {
  constructor(
    params: TypedArrayParams<SGDScheduleFreeOptions>,
    options?: TypedArrayOptions<SGDScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(SGDScheduleFreeAlgorithm, params, options));
  }
}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends ScheduleFreeClosureOptimizer<TypedArray, SGDScheduleFreeOptions> {
  constructor(
    params: TypedArrayParams<SGDScheduleFreeOptions>,
    options?: TypedArrayOptions<SGDScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(SGDScheduleFreeClosureAlgorithm, params, options));
  }
}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends ScheduleFreeOptimizer<TypedArray, SGDScheduleFreeOptions> {
  constructor(
    params: TypedArrayParams<SGDScheduleFreeOptions>,
    options?: TypedArrayOptions<SGDScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(SGDScheduleFreeReferenceAlgorithm, params, options));
  }
}

/** Schedule-Free AdamW (reference v1.3+ semantics) over typed arrays. */
export class AdamWScheduleFree extends ScheduleFreeOptimizer<TypedArray, AdamWScheduleFreeOptions> {
  constructor(
    params: TypedArrayParams<AdamWScheduleFreeOptions>,
    options?: TypedArrayOptions<AdamWScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(AdamWScheduleFreeAlgorithm, params, options));
  }
}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends ScheduleFreeClosureOptimizer<
  TypedArray,
  AdamWScheduleFreeClosureOptions
> {
  constructor(
    params: TypedArrayParams<AdamWScheduleFreeClosureOptions>,
    options?: TypedArrayOptions<AdamWScheduleFreeClosureOptions>,
  ) {
    super(...typedArrayArgs(AdamWScheduleFreeClosureAlgorithm, params, options));
  }
}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends ScheduleFreeOptimizer<
  TypedArray,
  AdamWScheduleFreeReferenceOptions
> {
  constructor(
    params: TypedArrayParams<AdamWScheduleFreeReferenceOptions>,
    options?: TypedArrayOptions<AdamWScheduleFreeReferenceOptions>,
  ) {
    super(...typedArrayArgs(AdamWScheduleFreeReferenceAlgorithm, params, options));
  }
}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends ScheduleFreeOptimizer<TypedArray, AdamWScheduleFreePaperOptions> {
  constructor(
    params: TypedArrayParams<AdamWScheduleFreePaperOptions>,
    options?: TypedArrayOptions<AdamWScheduleFreePaperOptions>,
  ) {
    super(...typedArrayArgs(AdamWScheduleFreePaperAlgorithm, params, options));
  }
}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends ScheduleFreeOptimizer<TypedArray, RAdamScheduleFreeOptions> {
  constructor(
    params: TypedArrayParams<RAdamScheduleFreeOptions>,
    options?: TypedArrayOptions<RAdamScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(RAdamScheduleFreeAlgorithm, params, options));
  }
}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends ScheduleFreeClosureOptimizer<
  TypedArray,
  RAdamScheduleFreeOptions
> {
  constructor(
    params: TypedArrayParams<RAdamScheduleFreeOptions>,
    options?: TypedArrayOptions<RAdamScheduleFreeOptions>,
  ) {
    super(...typedArrayArgs(RAdamScheduleFreeClosureAlgorithm, params, options));
  }
}

/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper`, 2026): Schedule-Free averaging with a Polyak step
 * size computed each step from the loss and two sums over every parameter, AdamC weight decay
 * (scaled by γ², so useful values are O(10–50)). Every step needs the loss at y:
 * `opt.step(grads, { loss })`. Keeps x, y and z explicitly (exact mode switches).
 */
export class AdamCScheduleFreePlusPaper extends ScheduleFreeOptimizer<
  TypedArray,
  AdamCScheduleFreePlusPaperOptions
> {
  constructor(
    params: TypedArrayParams<AdamCScheduleFreePlusPaperOptions>,
    options?: TypedArrayOptions<AdamCScheduleFreePlusPaperOptions>,
  ) {
    super(...typedArrayArgs(AdamCScheduleFreePlusPaperAlgorithm, params, options));
  }
}
