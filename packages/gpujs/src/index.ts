/**
 * @schedulefree/gpujs — Schedule-Free optimizers whose update runs as generated gpu.js kernels: the
 * core's traced update lowered to one kernel map (WebGL) or one kernel per output (WebGPU, webasm,
 * cpu), with the step's scalars as kernel arguments and the state kept on the GPU between steps.
 * @packageDocumentation
 */

// Learning-rate schedules from the core, so that installing this adapter alone is enough.
export {
  type AdamWScheduleFreeClosureOptions,
  type AdamWScheduleFreeOptions,
  type AdamWScheduleFreePaperOptions,
  type AdamWScheduleFreeReferenceOptions,
  type Algorithm,
  type CosineLrOptions,
  constantLr,
  cosineLr,
  type EngineOptions,
  type InverseSqrtLrOptions,
  inverseSqrtLr,
  type LrSchedule,
  type LrScheduleSpec,
  linearDecayLr,
  linearWarmupLr,
  lrSchedule,
  type Mode,
  type MultiStepLrOptions,
  multiStepLr,
  type ParamGroup,
  type PolynomialDecayLrOptions,
  polynomialDecayLr,
  type RAdamScheduleFreeOptions,
  ScheduleFreeError,
  type ScheduleFreeErrorCode,
  type SGDScheduleFreeOptions,
  type StateDict,
  type StepLrOptions,
  stepLr,
  withWarmup,
} from '@schedulefree/core';
export type { BaseAlgorithm, ScheduleFreeWrapperOptions } from '@schedulefree/wrapper';
// The wrapper's base algorithms by name too (`baseAlgorithms` holds the same objects), for the same reason.
export {
  AdagradAlgorithm,
  type AdagradOptions,
  AdamAlgorithm,
  type AdamOptions,
  AdamWAlgorithm,
  RMSpropAlgorithm,
  type RMSpropOptions,
  SGDAlgorithm,
  type SGDOptions,
} from '@schedulefree/wrapper';
export * from './classes.js';
export { capacityProblem, type DeviceLimits, textureSizeOf } from './limits.js';
export { type LoweredKernel, type LowerOptions, lowerPlan, type OutputStyle } from './lower.js';
export {
  GpuJsClosureOptimizer,
  type GpuJsClosureResult,
  type GpuJsGrads,
  GpuJsOptimizer,
  GpuJsOptimizerBase,
  type GpuJsOptions,
  type GpuJsParams,
  type GpuJsTensor,
} from './optimizer.js';
export type { GpuJsRuntimeOptions, KernelStyle } from './runtime.js';
export type { DeviceValue, GpuGradValue, GpuParamValue, WebGPUBufferResultLike } from './values.js';
export {
  baseAlgorithms,
  GpuJsBaseOptimizer,
  ScheduleFreeWrapper,
  ScheduleFreeWrapperReference,
} from './wrapper.js';
