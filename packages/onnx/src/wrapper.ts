import {
  type BaseAlgorithm,
  checkBaseAlgorithm,
  ScheduleFreeWrapperAlgorithm,
  type ScheduleFreeWrapperOptions,
  ScheduleFreeWrapperReferenceAlgorithm,
} from '@schedulefree/wrapper';
import { OnnxScheduleFreeOptimizer, type OrtModuleInput } from './optimizers.js';
import type { OnnxOptimizerOptions, OnnxParams } from './options.js';
import { setUp } from './setup.js';

export { baseAlgorithms } from '@schedulefree/wrapper';

/**
 * Makes a base optimizer (SGD, Adam, AdamW, RMSprop, Adagrad, or your own {@link BaseAlgorithm})
 * schedule-free, with base and wrapper fused into one step graph: the base steps z with gradients
 * taken at y; parameters hold y in train mode and x in eval mode. The group options are the base's
 * (`lr`, `betas`, …); the wrapper's (`momentum`, `weightDecayAtY`, `r`, `weightLrPower`) come last.
 */
export class ScheduleFreeWrapper<O extends { lr: number }> extends OnnxScheduleFreeOptimizer<O> {
  static async create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ): Promise<ScheduleFreeWrapper<O>> {
    checkBaseAlgorithm('ScheduleFreeWrapper', base);
    const algorithm = ScheduleFreeWrapperAlgorithm(base, wrapperOptions);
    const setup = await setUp(algorithm, ort, params, options);
    return setup.ready(new ScheduleFreeWrapper(setup));
  }
}

/** The wrapper keeping x, y and z explicitly: exact mode switches, β in [0, 1]. */
export class ScheduleFreeWrapperReference<O extends { lr: number }> extends OnnxScheduleFreeOptimizer<O> {
  static async create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ): Promise<ScheduleFreeWrapperReference<O>> {
    checkBaseAlgorithm('ScheduleFreeWrapperReference', base);
    const algorithm = ScheduleFreeWrapperReferenceAlgorithm(base, wrapperOptions);
    const setup = await setUp(algorithm, ort, params, options);
    return setup.ready(new ScheduleFreeWrapperReference(setup));
  }
}
