/**
 * @schedulefree/core — Schedule-Free optimizers (Defazio et al., "The Road Less Scheduled", 2024)
 * over an abstract tensor-ops interface, with a fused typed-array backend and a tracing IR.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './tensor-ops.js';
export * from './schedule.js';
export * from './program.js';
export * from './backend.js';
export * from './algorithm.js';
export * from './options.js';
export * from './optimizer.js';
export * from './ir/graph.js';
export { trace, TracingOps, Symbolic } from './ir/trace.js';
export { interpret } from './ir/interpret.js';
export { compileToJs, generateLoopSource, type FusedKernel } from './ir/compile-js.js';
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
export { isTypedArray, type TypedArray, TypedArrayOps } from './typed-array/ops.js';
export { graphOf, type TypedArrayExecution, typedArrayBackend } from './typed-array/backend.js';
export * from './typed-array/classes.js';
