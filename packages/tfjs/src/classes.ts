import {
  AdamWScheduleFreeAlgorithm,
  type AdamWScheduleFreeOptions,
  AdamWScheduleFreePaperAlgorithm,
  type AdamWScheduleFreePaperOptions,
  AdamWScheduleFreeReferenceAlgorithm,
  type AdamWScheduleFreeReferenceOptions,
  RAdamScheduleFreeAlgorithm,
  type RAdamScheduleFreeOptions,
  SGDScheduleFreeAlgorithm,
  type SGDScheduleFreeOptions,
  SGDScheduleFreeReferenceAlgorithm,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { ScheduleFreeTfjsOptimizer } from './optimizer.js';
import type { TfjsOptimizerOptions } from './options.js';

/**
 * Schedule-Free SGD (`SGDScheduleFree` of the reference package): one extra buffer z per variable.
 * Defaults: `lr` 1, `momentum` 0.9, no weight decay or warmup. SF learning rates are typically
 * 10–50× those of plain SGD.
 */
export class SGDScheduleFree extends ScheduleFreeTfjsOptimizer<SGDScheduleFreeOptions> {
  static get className(): string {
    return 'SGDScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<SGDScheduleFreeOptions>) {
    super(SGDScheduleFreeAlgorithm, options);
  }
}

/**
 * Schedule-Free AdamW (`AdamWScheduleFree`, reference v1.3+): bias correction inside the
 * denominator, weight decay at y, optional `innerMomentum`. Defaults: `lr` 0.0025, `betas`
 * [0.9, 0.999], `eps` 1e-8. SF learning rates are typically 1–10× those of AdamW.
 */
export class AdamWScheduleFree extends ScheduleFreeTfjsOptimizer<AdamWScheduleFreeOptions> {
  static get className(): string {
    return 'AdamWScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<AdamWScheduleFreeOptions>) {
    super(AdamWScheduleFreeAlgorithm, options);
  }
}

/**
 * Schedule-Free AdamW as in the paper's experiments (`AdamWScheduleFreePaper`): `sqrt(1 − β2^t)`
 * folded into the learning rate, hence into the averaging weights and the decay.
 */
export class AdamWScheduleFreePaper extends ScheduleFreeTfjsOptimizer<AdamWScheduleFreePaperOptions> {
  static get className(): string {
    return 'AdamWScheduleFreePaper';
  }
  constructor(options?: TfjsOptimizerOptions<AdamWScheduleFreePaperOptions>) {
    super(AdamWScheduleFreePaperAlgorithm, options);
  }
}

/**
 * Schedule-Free RAdam (`RAdamScheduleFree`): the rectified learning rate replaces warmup; with
 * `silentSgdPhase` (default) the variables do not move during the first steps.
 */
export class RAdamScheduleFree extends ScheduleFreeTfjsOptimizer<RAdamScheduleFreeOptions> {
  static get className(): string {
    return 'RAdamScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<RAdamScheduleFreeOptions>) {
    super(RAdamScheduleFreeAlgorithm, options);
  }
}

/** Schedule-Free SGD keeping x, y and z (exact mode switches, three extra buffers), for research. */
export class SGDScheduleFreeReference extends ScheduleFreeTfjsOptimizer<SGDScheduleFreeOptions> {
  static get className(): string {
    return 'SGDScheduleFreeReference';
  }
  constructor(options?: TfjsOptimizerOptions<SGDScheduleFreeOptions>) {
    super(SGDScheduleFreeReferenceAlgorithm, options);
  }
}

/** Schedule-Free AdamW keeping x, y and z, with `decayAtZ` and `innerMomentum`, for research. */
export class AdamWScheduleFreeReference extends ScheduleFreeTfjsOptimizer<AdamWScheduleFreeReferenceOptions> {
  static get className(): string {
    return 'AdamWScheduleFreeReference';
  }
  constructor(options?: TfjsOptimizerOptions<AdamWScheduleFreeReferenceOptions>) {
    super(AdamWScheduleFreeReferenceAlgorithm, options);
  }
}

for (const cls of [
  SGDScheduleFree,
  AdamWScheduleFree,
  AdamWScheduleFreePaper,
  RAdamScheduleFree,
  SGDScheduleFreeReference,
  AdamWScheduleFreeReference,
]) {
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.Optimizer>);
}

/** `new SGDScheduleFree(options)`, in the style of `tf.train.sgd`. */
export const sgdScheduleFree = (options?: TfjsOptimizerOptions<SGDScheduleFreeOptions>) =>
  new SGDScheduleFree(options);
/** `new AdamWScheduleFree(options)`, in the style of `tf.train.adam`. */
export const adamwScheduleFree = (options?: TfjsOptimizerOptions<AdamWScheduleFreeOptions>) =>
  new AdamWScheduleFree(options);
/** `new AdamWScheduleFreePaper(options)`. */
export const adamwScheduleFreePaper = (options?: TfjsOptimizerOptions<AdamWScheduleFreePaperOptions>) =>
  new AdamWScheduleFreePaper(options);
/** `new RAdamScheduleFree(options)`. */
export const radamScheduleFree = (options?: TfjsOptimizerOptions<RAdamScheduleFreeOptions>) =>
  new RAdamScheduleFree(options);
