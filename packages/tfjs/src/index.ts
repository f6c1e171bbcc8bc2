/**
 * @schedulefree/tfjs — Schedule-Free optimizers (Defazio et al., "The Road Less Scheduled", 2024)
 * as TensorFlow.js optimizers: `model.compile({ optimizer: new AdamWScheduleFree({ lr: 3e-3 }) })`.
 * @packageDocumentation
 */

// Types, errors, learning-rate schedules and base algorithms, so that installing this adapter alone is enough.
export * from '@schedulefree/wrapper/essentials';
export {
  type GroupRunner,
  type KernelMode,
  type RunProgram,
  type TfjsBackendOptions,
  tfjsBackend,
} from './backend.js';
export {
  type BatchNormOptions,
  type EvalParamsRunner,
  recomputeBatchNormStatistics,
} from './batchnorm.js';
export {
  type ModeSwitching,
  ScheduleFreeCallback,
  type ScheduleFreeCallbackOptions,
  scheduleFreeCallback,
} from './callbacks.js';
export * from './classes.js';
export { FiniteChecks } from './finite.js';
export { TfjsOps } from './ops.js';
export { type AddedParamGroup, type GradientStepExtras, ScheduleFreeTfjsOptimizer } from './optimizer.js';
export type {
  ParamGroupSpec,
  TfjsEngineOptions,
  TfjsOptimizerOptions,
  VariableSelector,
} from './options.js';
export { registerOptimizers } from './register.js';
export type { NamedTensor } from './saving.js';
export type { GradientsInput, ModelLike, NamedGradients } from './variables.js';
export {
  baseLearningRate,
  ScheduleFreeWrapper,
  type ScheduleFreeWrapperInit,
  type ScheduleFreeWrapperOptions,
  scheduleFreeWrapper,
} from './wrapper.js';

import {
  adamcScheduleFreePlusPaper,
  adamwScheduleFree,
  adamwScheduleFreePaper,
  radamScheduleFree,
  sgdScheduleFree,
} from './classes.js';
import { scheduleFreeWrapper } from './wrapper.js';

// Pure, so that importing one class does not keep every class.
/** The factories, grouped like `tf.train`: `train.adamwScheduleFree({ lr: 3e-3 })`. */
export const train = /* @__PURE__ */ Object.freeze({
  sgdScheduleFree,
  adamwScheduleFree,
  adamwScheduleFreePaper,
  radamScheduleFree,
  adamcScheduleFreePlusPaper,
  scheduleFreeWrapper,
});

// The fused wrappers as core algorithms (for `ScheduleFreeTfjsOptimizer`) and the base algorithms by name.
export {
  baseAlgorithms,
  ScheduleFreeWrapperAlgorithm,
  ScheduleFreeWrapperReferenceAlgorithm,
} from '@schedulefree/wrapper';
