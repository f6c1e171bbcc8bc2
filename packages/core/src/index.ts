/**
 * @schedulefree/core — Schedule-Free optimizers (Defazio et al., "The Road Less Scheduled", 2024)
 * over an abstract tensor-ops interface, with a fused typed-array backend and a tracing IR.
 * @packageDocumentation
 */

export * from './algorithm.js';
export * from './algorithms/definitions.js';
export {
  closureStepProgram,
  copyProgram,
  type DirectionConfig,
  fusedStepProgram,
  lerpToZProgram,
  type ReferenceDecay,
  referenceStepProgram,
} from './algorithms/programs.js';
export * from './algorithms/schedule-free-plus.js';
export * from './async-optimizer.js';
export * from './backend.js';
export {
  type ClosureResult,
  Engine,
  type EngineHints,
  type EngineInit,
  type EngineOptions,
  followedBy,
  type Operation,
  optionsObject,
  type ParamGroup,
  type StepExtras,
  splitEngineOptions,
} from './engine/engine.js';
export type { MemberView, ParamPlace } from './engine/layout.js';
export { immediate, isThenable, type Work, wait, waitAll } from './engine/work.js';
export * from './errors.js';
export * from './inputs.js';
export * from './ir/graph.js';
export { graphOf } from './ir/graph-cache.js';
export { interpret } from './ir/interpret.js';
export { Symbolic, TracingOps, trace } from './ir/trace.js';
export * from './lowering/expressions.js';
export * from './lowering/js-loop.js';
export * from './lowering/kernel-plan.js';
export * from './lowering/wgsl.js';
export * from './lr-schedules.js';
export * from './optimizer.js';
export * from './options.js';
export * from './program.js';
export { composePrograms, composeRuns } from './program-compose.js';
export * from './schedule.js';
export * from './state-dict.js';
export * from './tensor-ops.js';
export { type TypedArrayExecution, typedArrayBackend } from './typed-array/backend.js';
export * from './typed-array/classes.js';
export { allFinite, isTypedArray, type TypedArray, TypedArrayOps } from './typed-array/ops.js';
export * from './wasm/encoder.js';
export {
  FINITE_EXPORT,
  KERNEL_EXPORT,
  type LoweredKernel,
  lowerFiniteCheck,
  lowerToWasm,
  simdProbe,
} from './wasm/lower.js';
export { wasmSimdSupported } from './wasm/runtime.js';
