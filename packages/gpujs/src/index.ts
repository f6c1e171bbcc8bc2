/**
 * @schedulefree/gpujs — Schedule-Free optimizers whose update runs as generated gpu.js kernels: the
 * core's traced update lowered to one kernel map (WebGL) or one kernel per output (WebGPU, webasm,
 * cpu), with the step's scalars as kernel arguments and the state kept on the GPU between steps.
 * @packageDocumentation
 */

// Types, errors, learning-rate schedules and base algorithms, so that installing this adapter alone is enough.
export * from '@schedulefree/wrapper/essentials';
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
