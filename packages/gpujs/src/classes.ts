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
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer, type GpuJsOptions, type GpuJsParams } from './optimizer.js';

/** Schedule-Free SGD over gpu.js kernels. Parameters hold y in train mode, x in eval mode. */
export class SGDScheduleFree extends GpuJsOptimizer<SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<SGDScheduleFreeOptions>,
    options?: GpuJsOptions<SGDScheduleFreeOptions>,
  ) {
    super(SGDScheduleFreeAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free SGD keeping x, y and z explicitly (exact mode switches; β in [0, 1]). */
export class SGDScheduleFreeReference extends GpuJsOptimizer<SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<SGDScheduleFreeOptions>,
    options?: GpuJsOptions<SGDScheduleFreeOptions>,
  ) {
    super(SGDScheduleFreeReferenceAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free SGD driven by `step(closure)`; parameters hold x between steps. */
export class SGDScheduleFreeClosure extends GpuJsClosureOptimizer<SGDScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<SGDScheduleFreeOptions>,
    options?: GpuJsOptions<SGDScheduleFreeOptions>,
  ) {
    super(SGDScheduleFreeClosureAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free AdamW (reference v1.3+ semantics) over gpu.js kernels. */
export class AdamWScheduleFree extends GpuJsOptimizer<AdamWScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<AdamWScheduleFreeOptions>,
    options?: GpuJsOptions<AdamWScheduleFreeOptions>,
  ) {
    super(AdamWScheduleFreeAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free AdamW as in the paper's experiments (bias correction folded into the lr). */
export class AdamWScheduleFreePaper extends GpuJsOptimizer<AdamWScheduleFreePaperOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<AdamWScheduleFreePaperOptions>,
    options?: GpuJsOptions<AdamWScheduleFreePaperOptions>,
  ) {
    super(AdamWScheduleFreePaperAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free AdamW keeping x, y and z explicitly, with `decayAtZ` and `innerMomentum`. */
export class AdamWScheduleFreeReference extends GpuJsOptimizer<AdamWScheduleFreeReferenceOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<AdamWScheduleFreeReferenceOptions>,
    options?: GpuJsOptions<AdamWScheduleFreeReferenceOptions>,
  ) {
    super(AdamWScheduleFreeReferenceAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free AdamW driven by `step(closure)`. */
export class AdamWScheduleFreeClosure extends GpuJsClosureOptimizer<AdamWScheduleFreeClosureOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<AdamWScheduleFreeClosureOptions>,
    options?: GpuJsOptions<AdamWScheduleFreeClosureOptions>,
  ) {
    super(AdamWScheduleFreeClosureAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free RAdam: rectification instead of warmup. */
export class RAdamScheduleFree extends GpuJsOptimizer<RAdamScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<RAdamScheduleFreeOptions>,
    options?: GpuJsOptions<RAdamScheduleFreeOptions>,
  ) {
    super(RAdamScheduleFreeAlgorithm, gpu, params, options);
  }
}

/** Schedule-Free RAdam driven by `step(closure)`. */
export class RAdamScheduleFreeClosure extends GpuJsClosureOptimizer<RAdamScheduleFreeOptions> {
  constructor(
    gpu: GPU,
    params: GpuJsParams<RAdamScheduleFreeOptions>,
    options?: GpuJsOptions<RAdamScheduleFreeOptions>,
  ) {
    super(RAdamScheduleFreeClosureAlgorithm, gpu, params, options);
  }
}
