import type { BaseAlgorithm, ScheduleFreeWrapperOptions } from '@schedulefree/wrapper';
import * as wrapper from '@schedulefree/wrapper';
import type { GPU } from 'gpu.js';
import {
  type GpuJsGrads,
  GpuJsOptimizer,
  GpuJsOptimizerBase,
  type GpuJsOptions,
  type GpuJsParams,
} from './optimizer.js';

export { baseAlgorithms } from '@schedulefree/wrapper';

/**
 * Makes a base optimizer (SGD, Adam, AdamW, RMSprop, Adagrad, or your own `BaseAlgorithm`)
 * schedule-free, with base and wrapper fused into the same generated kernels: the base steps z with
 * gradients taken at y; parameters hold y in train mode and x in eval mode. The group options are
 * the base's (`lr`, `betas`, …); the wrapper's (`momentum`, `weightDecayAtY`, `r`, `weightLrPower`)
 * come last.
 */
export class ScheduleFreeWrapper<O extends { lr: number }> extends GpuJsOptimizer<O> {
  constructor(
    gpu: GPU,
    base: BaseAlgorithm<O>,
    params: GpuJsParams<O>,
    options?: GpuJsOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ) {
    wrapper.checkBaseAlgorithm('ScheduleFreeWrapper', base);
    super(wrapper.ScheduleFreeWrapperAlgorithm(base, wrapperOptions), gpu, params, options);
  }
}

/** The wrapper keeping x, y and z explicitly: exact mode switches, β in [0, 1]. */
export class ScheduleFreeWrapperReference<O extends { lr: number }> extends GpuJsOptimizer<O> {
  constructor(
    gpu: GPU,
    base: BaseAlgorithm<O>,
    params: GpuJsParams<O>,
    options?: GpuJsOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ) {
    wrapper.checkBaseAlgorithm('ScheduleFreeWrapperReference', base);
    super(wrapper.ScheduleFreeWrapperReferenceAlgorithm(base, wrapperOptions), gpu, params, options);
  }
}

/**
 * A base optimizer on its own (not Schedule-Free) over the same generated kernels: `step(grads)`
 * updates the parameters; there are no train/eval modes. The baseline to compare against.
 */
export class GpuJsBaseOptimizer<O extends { lr: number }> extends GpuJsOptimizerBase<O> {
  constructor(gpu: GPU, base: BaseAlgorithm<O>, params: GpuJsParams<O>, options?: GpuJsOptions<O>) {
    wrapper.checkBaseAlgorithm('GpuJsBaseOptimizer', base);
    super(wrapper.plainAlgorithm(base), gpu, params, options);
  }

  /** One step; resolves to false if it was skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`). */
  step(grads: GpuJsGrads): Promise<boolean> {
    return this.stepWith(grads);
  }
}
