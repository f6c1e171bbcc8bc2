import type * as core from '@schedulefree/core';
import { type Algorithm, scheduleFreeAlgorithms as algorithms } from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer, type GpuJsOptions, type GpuJsParams } from './optimizer.js';

/**
 * The core's Schedule-Free classes over gpu.js kernels, from the core's registry of algorithms,
 * with the core's names, options and defaults: `new Class(gpu, params, options)`.
 */

type ClassOf<O, Base> = new (gpu: GPU, params: GpuJsParams<O>, options?: GpuJsOptions<O>) => Base;

/** The base of a train/eval class running `algorithm`. */
function trainEval<O extends object>(algorithm: Algorithm<O>): ClassOf<O, GpuJsOptimizer<O>> {
  return class extends GpuJsOptimizer<O> {
    constructor(gpu: GPU, params: GpuJsParams<O>, options?: GpuJsOptions<O>) {
      super(algorithm, gpu, params, options);
    }
  };
}

/** The base of a closure class running `algorithm`. */
function closure<O extends object>(algorithm: Algorithm<O>): ClassOf<O, GpuJsClosureOptimizer<O>> {
  return class extends GpuJsClosureOptimizer<O> {
    constructor(gpu: GPU, params: GpuJsParams<O>, options?: GpuJsOptions<O>) {
      super(algorithm, gpu, params, options);
    }
  };
}

/** Schedule-Free SGD over gpu.js kernels. Parameters hold y in train mode, x in eval mode. */
export class SGDScheduleFree extends trainEval<core.SGDScheduleFreeOptions>(algorithms.SGDScheduleFree) {}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends trainEval<core.SGDScheduleFreeOptions>(
  algorithms.SGDScheduleFreeReference,
) {}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends closure<core.SGDScheduleFreeOptions>(
  algorithms.SGDScheduleFreeClosure,
) {}

/** Schedule-Free AdamW (reference v1.3+ semantics) over gpu.js kernels. */
export class AdamWScheduleFree extends trainEval<core.AdamWScheduleFreeOptions>(
  algorithms.AdamWScheduleFree,
) {}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends trainEval<core.AdamWScheduleFreePaperOptions>(
  algorithms.AdamWScheduleFreePaper,
) {}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends trainEval<core.AdamWScheduleFreeReferenceOptions>(
  algorithms.AdamWScheduleFreeReference,
) {}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends closure<core.AdamWScheduleFreeClosureOptions>(
  algorithms.AdamWScheduleFreeClosure,
) {}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends trainEval<core.RAdamScheduleFreeOptions>(
  algorithms.RAdamScheduleFree,
) {}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends closure<core.RAdamScheduleFreeOptions>(
  algorithms.RAdamScheduleFreeClosure,
) {}

/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper`): a Polyak step size from the loss and two sums over
 * every parameter, AdamC weight decay (useful values O(10–50)). Pass the loss at y:
 * `await opt.step(grads, { loss })`. Each step runs one partial-sum kernel per parameter and reads
 * its partial sums back (the other classes read nothing back).
 */
export class AdamCScheduleFreePlusPaper extends trainEval<core.AdamCScheduleFreePlusPaperOptions>(
  algorithms.AdamCScheduleFreePlusPaper,
) {}
