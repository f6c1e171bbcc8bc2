/**
 * @schedulefree/onnx — Schedule-Free optimizers whose update step is a generated ONNX graph, run by
 * an injected ONNX Runtime (`onnxruntime-web` with the wasm or WebGPU provider, or
 * `onnxruntime-node`), with an exportable step model.
 * @packageDocumentation
 */

// Types, errors, learning-rate schedules and base algorithms, so that installing this adapter alone is enough.
export * from '@schedulefree/wrapper/essentials';
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
