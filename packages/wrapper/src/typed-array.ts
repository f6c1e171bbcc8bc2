import {
  type Backend,
  check,
  type EngineOptions,
  optionsObject,
  type ParamsInput,
  ScheduleFreeOptimizer,
  type TypedArray,
  type TypedArrayExecution,
  typedArrayBackendFor,
} from '@schedulefree/core';
import { AdagradAlgorithm, type AdagradOptions } from './base/adagrad.js';
import { AdamAlgorithm, type AdamOptions, AdamWAlgorithm } from './base/adam.js';
import { BaseOptimizer } from './base/plain.js';
import { RMSpropAlgorithm, type RMSpropOptions } from './base/rmsprop.js';
import { SGDAlgorithm, type SGDOptions } from './base/sgd.js';
import type { BaseAlgorithm } from './base/types.js';
import { type ScheduleFreeWrapperOptions, scheduleFreeWrapperAlgorithm } from './wrapper-algorithm.js';

/** Constructor options of the typed-array base optimizers. */
export type BaseOptions<O> = Partial<O> & EngineOptions & { execution?: TypedArrayExecution };

function backendArgs<O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  params: ParamsInput<TypedArray, O>,
  options: BaseOptions<O> = {},
): [BaseAlgorithm<O>, Backend<TypedArray>, ParamsInput<TypedArray, O>, Partial<O> & EngineOptions] {
  const { execution, ...rest } = optionsObject(options, base.name) as BaseOptions<O>;
  return [base, typedArrayBackendFor(base.name, execution), params, rest as Partial<O> & EngineOptions];
}

/** SGD (PyTorch semantics) over Float32Array / Float64Array parameters. */
export class SGD extends BaseOptimizer<TypedArray, SGDOptions> {
  constructor(params: ParamsInput<TypedArray, SGDOptions>, options?: BaseOptions<SGDOptions>) {
    super(...backendArgs(SGDAlgorithm, params, options));
  }
}

/** Adam (PyTorch semantics) over typed arrays. */
export class Adam extends BaseOptimizer<TypedArray, AdamOptions> {
  constructor(params: ParamsInput<TypedArray, AdamOptions>, options?: BaseOptions<AdamOptions>) {
    super(...backendArgs(AdamAlgorithm, params, options));
  }
}

/** AdamW (PyTorch semantics, decoupled decay, default 0.01) over typed arrays. */
export class AdamW extends BaseOptimizer<TypedArray, AdamOptions> {
  constructor(params: ParamsInput<TypedArray, AdamOptions>, options?: BaseOptions<AdamOptions>) {
    super(...backendArgs(AdamWAlgorithm, params, options));
  }
}

/** RMSprop (PyTorch semantics, with momentum and centred variants) over typed arrays. */
export class RMSprop extends BaseOptimizer<TypedArray, RMSpropOptions> {
  constructor(params: ParamsInput<TypedArray, RMSpropOptions>, options?: BaseOptions<RMSpropOptions>) {
    super(...backendArgs(RMSpropAlgorithm, params, options));
  }
}

/** Adagrad (PyTorch semantics) over typed arrays. */
export class Adagrad extends BaseOptimizer<TypedArray, AdagradOptions> {
  constructor(params: ParamsInput<TypedArray, AdagradOptions>, options?: BaseOptions<AdagradOptions>) {
    super(...backendArgs(AdagradAlgorithm, params, options));
  }
}

/** Wrapper options plus the engine's. */
export type WrapperOptions = Partial<ScheduleFreeWrapperOptions> & EngineOptions;

function wrapperArgs<O extends { lr: number }>(
  base: BaseOptimizer<TypedArray, O>,
  options: WrapperOptions,
  reference: boolean,
) {
  const label = reference ? 'ScheduleFreeWrapperReference' : 'ScheduleFreeWrapper';
  check(
    base instanceof BaseOptimizer,
    'INVALID_PARAMS',
    () =>
      `${label}: the first argument must be a base optimizer such as new SGD(params, { lr }) or new Adam(params).`,
  );
  const { nonFiniteGrads, ...wrapperOptions } = optionsObject(options, label) as WrapperOptions;
  // Validate the wrapper's options before taking the base's parameters, so a bad option changes nothing.
  const algorithm = scheduleFreeWrapperAlgorithm(base.base, wrapperOptions, reference);
  const handed = base.handOver(label);
  return [
    algorithm,
    handed.backend,
    handed.groups,
    { nonFiniteGrads } as Partial<O> & EngineOptions,
  ] as const;
}

/**
 * Makes a base optimizer schedule-free: the base steps z with gradients taken at y, the wrapper
 * keeps y (in the parameters) and z, and x is recovered on `eval()`. The base optimizer's own
 * weight decay is computed at z; `weightDecayAtY` decays at y. Set the lr on `paramGroups`.
 */
export class ScheduleFreeWrapper<O extends { lr: number }> extends ScheduleFreeOptimizer<TypedArray, O> {
  constructor(base: BaseOptimizer<TypedArray, O>, options: WrapperOptions = {}) {
    super(...wrapperArgs(base, options, false));
  }
}

/** The wrapper keeping x, y and z explicitly: exact mode switches, β in [0, 1]. */
export class ScheduleFreeWrapperReference<O extends { lr: number }> extends ScheduleFreeOptimizer<
  TypedArray,
  O
> {
  constructor(base: BaseOptimizer<TypedArray, O>, options: WrapperOptions = {}) {
    super(...wrapperArgs(base, options, true));
  }
}
