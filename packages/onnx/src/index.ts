/**
 * @schedulefree/onnx — Schedule-Free optimizers whose update step is a generated ONNX graph, run by
 * an injected ONNX Runtime (`onnxruntime-web` with the wasm or WebGPU provider, or
 * `onnxruntime-node`), with an exportable step model.
 * @packageDocumentation
 */

// Learning-rate schedules from the core, so that installing this adapter alone is enough.
export {
  type AdamWScheduleFreeClosureOptions,
  type AdamWScheduleFreeOptions,
  type AdamWScheduleFreePaperOptions,
  type AdamWScheduleFreeReferenceOptions,
  type Algorithm,
  type ClosureResult,
  type CosineLrOptions,
  constantLr,
  cosineLr,
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
export {
  AdagradAlgorithm,
  type AdagradOptions,
  AdamAlgorithm,
  type AdamOptions,
  AdamWAlgorithm,
  type BaseAlgorithm,
  RMSpropAlgorithm,
  type RMSpropOptions,
  type ScheduleFreeWrapperOptions,
  SGDAlgorithm,
  type SGDOptions,
} from '@schedulefree/wrapper';
export * from './classes.js';
export * from './export.js';
export { type LoweredGraph, type LowerOptions, lowerPlan, type PortSpec, scalarInputName } from './lower.js';
export { IR_VERSION, OPSET_VERSION } from './model.js';
export { encodeModel, type ModelSpec } from './onnx-model.js';
export {
  createClosureOptimizer,
  createOptimizer,
  OnnxBaseOptimizer,
  type OnnxClosure,
  OnnxScheduleFreeClosureOptimizer,
  OnnxScheduleFreeOptimizer,
  type OrtModuleInput,
  type ParamLayout,
} from './optimizers.js';
export type {
  OnnxEngineOptions,
  OnnxOptimizerOptions,
  OnnxParams,
  StateLocation,
} from './options.js';
export type { OrtModule, OrtTensor, TensorInput } from './runtime.js';
export { baseAlgorithms, ScheduleFreeWrapper, ScheduleFreeWrapperReference } from './wrapper.js';
