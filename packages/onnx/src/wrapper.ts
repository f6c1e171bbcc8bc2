import {
  type BaseAlgorithm,
  checkBaseAlgorithm,
  plainAlgorithm,
  ScheduleFreeWrapperAlgorithm,
  type ScheduleFreeWrapperOptions,
  ScheduleFreeWrapperReferenceAlgorithm,
} from '@schedulefree/wrapper';
import { OnnxOptimizerEngine, type OnnxOptimizerOptions, type OnnxParams } from './engine.js';
import { OnnxScheduleFreeOptimizer, type OrtModuleInput } from './optimizers.js';
import type { TensorInput } from './runtime.js';

export { baseAlgorithms } from '@schedulefree/wrapper';

/**
 * Makes a base optimizer (SGD, Adam, AdamW, RMSprop, Adagrad, or your own {@link BaseAlgorithm})
 * schedule-free, with base and wrapper fused into one step graph: the base steps z with gradients
 * taken at y; parameters hold y in train mode and x in eval mode. The group options are the base's
 * (`lr`, `betas`, …); the wrapper's (`momentum`, `weightDecayAtY`, `r`, `weightLrPower`) come last.
 */
export class ScheduleFreeWrapper<O extends { lr: number }> extends OnnxScheduleFreeOptimizer<O> {
  static create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ): Promise<ScheduleFreeWrapper<O>> {
    return ScheduleFreeWrapper.build(() => {
      checkBaseAlgorithm('ScheduleFreeWrapper', base);
      const algorithm = ScheduleFreeWrapperAlgorithm(base, wrapperOptions);
      return new ScheduleFreeWrapper<O>(algorithm, ort, params, options);
    });
  }
}

/** The wrapper keeping x, y and z explicitly: exact mode switches, β in [0, 1]. */
export class ScheduleFreeWrapperReference<O extends { lr: number }> extends OnnxScheduleFreeOptimizer<O> {
  static create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
    wrapperOptions?: Partial<ScheduleFreeWrapperOptions>,
  ): Promise<ScheduleFreeWrapperReference<O>> {
    return ScheduleFreeWrapperReference.build(() => {
      checkBaseAlgorithm('ScheduleFreeWrapperReference', base);
      const algorithm = ScheduleFreeWrapperReferenceAlgorithm(base, wrapperOptions);
      return new ScheduleFreeWrapperReference<O>(algorithm, ort, params, options);
    });
  }
}

/**
 * A base optimizer on its own (not Schedule-Free): `step(grads)` updates the parameters, with no
 * train/eval modes. The same graph machinery, useful as a baseline for the Schedule-Free classes.
 */
export class OnnxBaseOptimizer<O extends { lr: number }> extends OnnxOptimizerEngine<O> {
  static create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
  ): Promise<OnnxBaseOptimizer<O>> {
    return OnnxBaseOptimizer.build(() => {
      checkBaseAlgorithm('OnnxBaseOptimizer', base);
      return new OnnxBaseOptimizer<O>(plainAlgorithm(base), ort, params, options);
    });
  }

  /** One step; resolves to false if it was skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`). */
  step(grads: Readonly<Record<string, TensorInput>>): Promise<boolean> {
    return this.serial('step', async () => {
      this.validateGroups();
      if (!this.checkGrads(grads, 'step')) return false;
      return this.applyStep(grads, 'step');
    });
  }
}
