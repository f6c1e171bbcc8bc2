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
} from '@schedulefree/core';
import type { OnnxOptimizerOptions, OnnxParams } from './engine.js';
import {
  OnnxScheduleFreeClosureOptimizer,
  OnnxScheduleFreeOptimizer,
  type OrtModuleInput,
} from './optimizers.js';

/*
 * The Schedule-Free classes of the core, run by ONNX Runtime. Create them with the static `create`:
 *
 *   import * as ort from 'onnxruntime-web';
 *   const opt = await AdamWScheduleFree.create(ort, { w: weights }, { lr: 1e-3 });
 */

/** Schedule-Free SGD. Parameters hold y in train mode, x in eval mode; one extra buffer z. */
export class SGDScheduleFree extends OnnxScheduleFreeOptimizer<SGDScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFree> {
    return SGDScheduleFree.build(() => new SGDScheduleFree(SGDScheduleFreeAlgorithm, ort, params, options));
  }
}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<SGDScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFreeClosure> {
    return SGDScheduleFreeClosure.build(
      () => new SGDScheduleFreeClosure(SGDScheduleFreeClosureAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends OnnxScheduleFreeOptimizer<SGDScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFreeReference> {
    return SGDScheduleFreeReference.build(
      () => new SGDScheduleFreeReference(SGDScheduleFreeReferenceAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free AdamW (reference v1.3+ semantics: bias correction in the denominator, decay at y, optional inner momentum). */
export class AdamWScheduleFree extends OnnxScheduleFreeOptimizer<AdamWScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<AdamWScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<AdamWScheduleFreeOptions>,
  ): Promise<AdamWScheduleFree> {
    return AdamWScheduleFree.build(
      () => new AdamWScheduleFree(AdamWScheduleFreeAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<AdamWScheduleFreeClosureOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<AdamWScheduleFreeClosureOptions>,
    options?: OnnxOptimizerOptions<AdamWScheduleFreeClosureOptions>,
  ): Promise<AdamWScheduleFreeClosure> {
    return AdamWScheduleFreeClosure.build(
      () => new AdamWScheduleFreeClosure(AdamWScheduleFreeClosureAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends OnnxScheduleFreeOptimizer<AdamWScheduleFreeReferenceOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<AdamWScheduleFreeReferenceOptions>,
    options?: OnnxOptimizerOptions<AdamWScheduleFreeReferenceOptions>,
  ): Promise<AdamWScheduleFreeReference> {
    return AdamWScheduleFreeReference.build(
      () => new AdamWScheduleFreeReference(AdamWScheduleFreeReferenceAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends OnnxScheduleFreeOptimizer<AdamWScheduleFreePaperOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<AdamWScheduleFreePaperOptions>,
    options?: OnnxOptimizerOptions<AdamWScheduleFreePaperOptions>,
  ): Promise<AdamWScheduleFreePaper> {
    return AdamWScheduleFreePaper.build(
      () => new AdamWScheduleFreePaper(AdamWScheduleFreePaperAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends OnnxScheduleFreeOptimizer<RAdamScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<RAdamScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<RAdamScheduleFreeOptions>,
  ): Promise<RAdamScheduleFree> {
    return RAdamScheduleFree.build(
      () => new RAdamScheduleFree(RAdamScheduleFreeAlgorithm, ort, params, options),
    );
  }
}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<RAdamScheduleFreeOptions> {
  /**
   * Creates the optimizer: copies the parameters (float32 `ort.Tensor`s or `Float32Array`s, by name,
   * or groups `{ params, ...options }`) into flat buffers and creates the step's session.
   */
  static create(
    ort: OrtModuleInput,
    params: OnnxParams<RAdamScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<RAdamScheduleFreeOptions>,
  ): Promise<RAdamScheduleFreeClosure> {
    return RAdamScheduleFreeClosure.build(
      () => new RAdamScheduleFreeClosure(RAdamScheduleFreeClosureAlgorithm, ort, params, options),
    );
  }
}
