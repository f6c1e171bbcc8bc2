/**
 * `@schedulefree/wrapper/essentials` — what a user of any adapter needs besides the adapter's own
 * classes: option and state types, the error type, learning-rate schedules and the wrapper's base
 * algorithms. Every adapter re-exports this module, so installing one adapter is enough (pnpm's
 * strict layout hides its dependencies), and the list is written once.
 * @packageDocumentation
 */

export {
  type AdamCScheduleFreePlusPaperOptions,
  type AdamWScheduleFreeClosureOptions,
  type AdamWScheduleFreeOptions,
  type AdamWScheduleFreePaperOptions,
  type AdamWScheduleFreeReferenceOptions,
  type Algorithm,
  type ClosureResult,
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
export { AdagradAlgorithm, type AdagradOptions } from './base/adagrad.js';
export { AdamAlgorithm, type AdamOptions, AdamWAlgorithm } from './base/adam.js';
export { RMSpropAlgorithm, type RMSpropOptions } from './base/rmsprop.js';
export { SGDAlgorithm, type SGDOptions } from './base/sgd.js';
export type { BaseAlgorithm } from './base/types.js';
export type { ScheduleFreeWrapperOptions } from './wrapper-algorithm.js';
