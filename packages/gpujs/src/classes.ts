import type * as core from '@schedulefree/core';
import { scheduleFreeAlgorithms as algorithms } from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer, type GpuJsOptions, type GpuJsParams } from './optimizer.js';

/**
 * The core's Schedule-Free classes over gpu.js kernels, with the core's names, options and
 * defaults: `new Class(gpu, params, options)`.
 */

/** Schedule-Free SGD over gpu.js kernels. Parameters hold y in train mode, x in eval mode. */
export class SGDScheduleFree extends GpuJsOptimizer<core.SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.SGDScheduleFreeOptions>,
    options?: GpuJsOptions<core.SGDScheduleFreeOptions>,
  ) {
    super(algorithms.SGDScheduleFree, gpu, params, options);
  }
}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends GpuJsOptimizer<core.SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.SGDScheduleFreeOptions>,
    options?: GpuJsOptions<core.SGDScheduleFreeOptions>,
  ) {
    super(algorithms.SGDScheduleFreeReference, gpu, params, options);
  }
}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends GpuJsClosureOptimizer<core.SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.SGDScheduleFreeOptions>,
    options?: GpuJsOptions<core.SGDScheduleFreeOptions>,
  ) {
    super(algorithms.SGDScheduleFreeClosure, gpu, params, options);
  }
}

/** Schedule-Free AdamW (reference v1.3+ semantics) over gpu.js kernels. */
export class AdamWScheduleFree extends GpuJsOptimizer<core.AdamWScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.AdamWScheduleFreeOptions>,
    options?: GpuJsOptions<core.AdamWScheduleFreeOptions>,
  ) {
    super(algorithms.AdamWScheduleFree, gpu, params, options);
  }
}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends GpuJsOptimizer<core.AdamWScheduleFreePaperOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.AdamWScheduleFreePaperOptions>,
    options?: GpuJsOptions<core.AdamWScheduleFreePaperOptions>,
  ) {
    super(algorithms.AdamWScheduleFreePaper, gpu, params, options);
  }
}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends GpuJsOptimizer<core.AdamWScheduleFreeReferenceOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.AdamWScheduleFreeReferenceOptions>,
    options?: GpuJsOptions<core.AdamWScheduleFreeReferenceOptions>,
  ) {
    super(algorithms.AdamWScheduleFreeReference, gpu, params, options);
  }
}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends GpuJsClosureOptimizer<core.AdamWScheduleFreeClosureOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.AdamWScheduleFreeClosureOptions>,
    options?: GpuJsOptions<core.AdamWScheduleFreeClosureOptions>,
  ) {
    super(algorithms.AdamWScheduleFreeClosure, gpu, params, options);
  }
}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends GpuJsOptimizer<core.RAdamScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.RAdamScheduleFreeOptions>,
    options?: GpuJsOptions<core.RAdamScheduleFreeOptions>,
  ) {
    super(algorithms.RAdamScheduleFree, gpu, params, options);
  }
}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends GpuJsClosureOptimizer<core.RAdamScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<core.RAdamScheduleFreeOptions>,
    options?: GpuJsOptions<core.RAdamScheduleFreeOptions>,
  ) {
    super(algorithms.RAdamScheduleFreeClosure, gpu, params, options);
  }
}
