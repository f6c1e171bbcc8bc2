import type * as core from '@schedulefree/core';
import { scheduleFreeAlgorithms as algorithms } from '@schedulefree/core';
import { ScheduleFreeTfjsOptimizer } from './optimizer.js';
import type { TfjsOptimizerOptions } from './options.js';

/**
 * Schedule-Free SGD (`SGDScheduleFree` of the reference package): one extra buffer z per variable.
 * Defaults: `lr` 1, `momentum` 0.9, no weight decay or warmup. SF learning rates are typically
 * 10–50× those of plain SGD.
 */
export class SGDScheduleFree extends ScheduleFreeTfjsOptimizer<core.SGDScheduleFreeOptions> {
  static get className(): string {
    return 'SGDScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<core.SGDScheduleFreeOptions>) {
    super(algorithms.SGDScheduleFree, options);
  }
}

/**
 * Schedule-Free AdamW (`AdamWScheduleFree`, reference v1.3+): bias correction inside the
 * denominator, weight decay at y, optional `innerMomentum`. Defaults: `lr` 0.0025, `betas`
 * [0.9, 0.999], `eps` 1e-8. SF learning rates are typically 1–10× those of AdamW.
 */
export class AdamWScheduleFree extends ScheduleFreeTfjsOptimizer<core.AdamWScheduleFreeOptions> {
  static get className(): string {
    return 'AdamWScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<core.AdamWScheduleFreeOptions>) {
    super(algorithms.AdamWScheduleFree, options);
  }
}

/**
 * Schedule-Free AdamW as in the paper's experiments (`AdamWScheduleFreePaper`): `sqrt(1 − β2^t)`
 * folded into the learning rate, hence into the averaging weights and the decay.
 */
export class AdamWScheduleFreePaper extends ScheduleFreeTfjsOptimizer<core.AdamWScheduleFreePaperOptions> {
  static get className(): string {
    return 'AdamWScheduleFreePaper';
  }
  constructor(options?: TfjsOptimizerOptions<core.AdamWScheduleFreePaperOptions>) {
    super(algorithms.AdamWScheduleFreePaper, options);
  }
}

/**
 * Schedule-Free RAdam (`RAdamScheduleFree`): the rectified learning rate replaces warmup; with
 * `silentSgdPhase` (default) the variables do not move during the first steps.
 */
export class RAdamScheduleFree extends ScheduleFreeTfjsOptimizer<core.RAdamScheduleFreeOptions> {
  static get className(): string {
    return 'RAdamScheduleFree';
  }
  constructor(options?: TfjsOptimizerOptions<core.RAdamScheduleFreeOptions>) {
    super(algorithms.RAdamScheduleFree, options);
  }
}

/** Schedule-Free SGD keeping x, y and z (exact mode switches, three extra buffers), for research. */
export class SGDScheduleFreeReference extends ScheduleFreeTfjsOptimizer<core.SGDScheduleFreeOptions> {
  static get className(): string {
    return 'SGDScheduleFreeReference';
  }
  constructor(options?: TfjsOptimizerOptions<core.SGDScheduleFreeOptions>) {
    super(algorithms.SGDScheduleFreeReference, options);
  }
}

/** Schedule-Free AdamW keeping x, y and z, with `decayAtZ` and `innerMomentum`, for research. */
export class AdamWScheduleFreeReference extends ScheduleFreeTfjsOptimizer<core.AdamWScheduleFreeReferenceOptions> {
  static get className(): string {
    return 'AdamWScheduleFreeReference';
  }
  constructor(options?: TfjsOptimizerOptions<core.AdamWScheduleFreeReferenceOptions>) {
    super(algorithms.AdamWScheduleFreeReference, options);
  }
}

/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper` of the reference package): Schedule-Free averaging
 * with its own outer momentum `sfBeta1` (optionally annealed), AdamC weight decay scaled by lr²
 * (useful `weightDecay` values are O(10–50)), and a Polyak step size computed every step from the
 * loss and two sums over every variable. Keeps x, y and z like the reference classes. Defaults:
 * `lr` 1, `betas` [0.9, 0.95], `sfBeta1` 0.9, `eps` 1e-8.
 *
 * It needs the loss at the variables every step: `minimize(f)` (hence `model.fit`) passes the
 * value of `f`; `applyGradients(grads, { loss })` takes it explicitly, and without it is an
 * `INVALID_LOSS` error that changes nothing. Each step reads the loss and the two sums back to the
 * host (on webgl and webgpu: one small read of the sums per parameter group, and the loss; on
 * webgpu only the asynchronous steps can, `minimizeAsync`/`applyGradientsAsync`).
 */
export class AdamCScheduleFreePlusPaper extends ScheduleFreeTfjsOptimizer<core.AdamCScheduleFreePlusPaperOptions> {
  static get className(): string {
    return 'AdamCScheduleFreePlusPaper';
  }
  constructor(options?: TfjsOptimizerOptions<core.AdamCScheduleFreePlusPaperOptions>) {
    super(algorithms.AdamCScheduleFreePlusPaper, options);
  }
}

/** `new SGDScheduleFree(options)`, in the style of `tf.train.sgd`. */
export const sgdScheduleFree = (options?: TfjsOptimizerOptions<core.SGDScheduleFreeOptions>) =>
  new SGDScheduleFree(options);
/** `new AdamWScheduleFree(options)`, in the style of `tf.train.adam`. */
export const adamwScheduleFree = (options?: TfjsOptimizerOptions<core.AdamWScheduleFreeOptions>) =>
  new AdamWScheduleFree(options);
/** `new AdamWScheduleFreePaper(options)`. */
export const adamwScheduleFreePaper = (options?: TfjsOptimizerOptions<core.AdamWScheduleFreePaperOptions>) =>
  new AdamWScheduleFreePaper(options);
/** `new RAdamScheduleFree(options)`. */
export const radamScheduleFree = (options?: TfjsOptimizerOptions<core.RAdamScheduleFreeOptions>) =>
  new RAdamScheduleFree(options);
/** `new AdamCScheduleFreePlusPaper(options)` (ScheduleFree+). */
export const adamcScheduleFreePlusPaper = (
  options?: TfjsOptimizerOptions<core.AdamCScheduleFreePlusPaperOptions>,
) => new AdamCScheduleFreePlusPaper(options);
