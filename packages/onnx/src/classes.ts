import type * as core from '@schedulefree/core';
import { scheduleFreeAlgorithms as algorithms } from '@schedulefree/core';
import {
  OnnxScheduleFreeClosureOptimizer,
  OnnxScheduleFreeOptimizer,
  type OrtModuleInput,
} from './optimizers.js';
import type { OnnxOptimizerOptions, OnnxParams } from './options.js';
import { setUp } from './setup.js';

/*
 * The Schedule-Free classes of the core, run by ONNX Runtime. Each `create` copies the parameters
 * (float32 `ort.Tensor`s or `Float32Array`s, by name, or groups `{ params, ...options }`) into flat
 * buffers and creates the first step's session:
 *
 *   import * as ort from 'onnxruntime-web';
 *   const opt = await AdamWScheduleFree.create(ort, { w: weights }, { lr: 1e-3 });
 */

/** Schedule-Free SGD. Parameters hold y in train mode, x in eval mode; one extra buffer z. */
export class SGDScheduleFree extends OnnxScheduleFreeOptimizer<core.SGDScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFree> {
    const setup = await setUp(algorithms.SGDScheduleFree, ort, params, options);
    return setup.ready(new SGDScheduleFree(setup));
  }
}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<core.SGDScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFreeClosure> {
    const setup = await setUp(algorithms.SGDScheduleFreeClosure, ort, params, options);
    return setup.ready(new SGDScheduleFreeClosure(setup));
  }
}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends OnnxScheduleFreeOptimizer<core.SGDScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.SGDScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.SGDScheduleFreeOptions>,
  ): Promise<SGDScheduleFreeReference> {
    const setup = await setUp(algorithms.SGDScheduleFreeReference, ort, params, options);
    return setup.ready(new SGDScheduleFreeReference(setup));
  }
}

/** Schedule-Free AdamW (reference v1.3+ semantics: bias correction in the denominator, decay at y, optional inner momentum). */
export class AdamWScheduleFree extends OnnxScheduleFreeOptimizer<core.AdamWScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.AdamWScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.AdamWScheduleFreeOptions>,
  ): Promise<AdamWScheduleFree> {
    const setup = await setUp(algorithms.AdamWScheduleFree, ort, params, options);
    return setup.ready(new AdamWScheduleFree(setup));
  }
}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<core.AdamWScheduleFreeClosureOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.AdamWScheduleFreeClosureOptions>,
    options?: OnnxOptimizerOptions<core.AdamWScheduleFreeClosureOptions>,
  ): Promise<AdamWScheduleFreeClosure> {
    const setup = await setUp(algorithms.AdamWScheduleFreeClosure, ort, params, options);
    return setup.ready(new AdamWScheduleFreeClosure(setup));
  }
}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends OnnxScheduleFreeOptimizer<core.AdamWScheduleFreeReferenceOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.AdamWScheduleFreeReferenceOptions>,
    options?: OnnxOptimizerOptions<core.AdamWScheduleFreeReferenceOptions>,
  ): Promise<AdamWScheduleFreeReference> {
    const setup = await setUp(algorithms.AdamWScheduleFreeReference, ort, params, options);
    return setup.ready(new AdamWScheduleFreeReference(setup));
  }
}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends OnnxScheduleFreeOptimizer<core.AdamWScheduleFreePaperOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.AdamWScheduleFreePaperOptions>,
    options?: OnnxOptimizerOptions<core.AdamWScheduleFreePaperOptions>,
  ): Promise<AdamWScheduleFreePaper> {
    const setup = await setUp(algorithms.AdamWScheduleFreePaper, ort, params, options);
    return setup.ready(new AdamWScheduleFreePaper(setup));
  }
}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends OnnxScheduleFreeOptimizer<core.RAdamScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.RAdamScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.RAdamScheduleFreeOptions>,
  ): Promise<RAdamScheduleFree> {
    const setup = await setUp(algorithms.RAdamScheduleFree, ort, params, options);
    return setup.ready(new RAdamScheduleFree(setup));
  }
}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends OnnxScheduleFreeClosureOptimizer<core.RAdamScheduleFreeOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.RAdamScheduleFreeOptions>,
    options?: OnnxOptimizerOptions<core.RAdamScheduleFreeOptions>,
  ): Promise<RAdamScheduleFreeClosure> {
    const setup = await setUp(algorithms.RAdamScheduleFreeClosure, ort, params, options);
    return setup.ready(new RAdamScheduleFreeClosure(setup));
  }
}

/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper`): a Polyak step size from the loss and two sums over
 * every parameter (one extra session run per group each step: `ReduceSum`s read back as two
 * numbers), AdamC weight decay (O(10–50)). Pass the loss at y: `await opt.step(grads, { loss })`.
 */
export class AdamCScheduleFreePlusPaper extends OnnxScheduleFreeOptimizer<core.AdamCScheduleFreePlusPaperOptions> {
  static async create(
    ort: OrtModuleInput,
    params: OnnxParams<core.AdamCScheduleFreePlusPaperOptions>,
    options?: OnnxOptimizerOptions<core.AdamCScheduleFreePlusPaperOptions>,
  ): Promise<AdamCScheduleFreePlusPaper> {
    const setup = await setUp(algorithms.AdamCScheduleFreePlusPaper, ort, params, options);
    return setup.ready(new AdamCScheduleFreePlusPaper(setup));
  }
}
