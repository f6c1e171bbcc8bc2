/**
 * @schedulefree/wrapper — make any base optimizer schedule-free (`ScheduleFreeWrapper`, with
 * `weightDecayAtY`), and base optimizers with PyTorch semantics written over `TensorOps`.
 * @packageDocumentation
 */

export { AdagradAlgorithm, type AdagradOptions } from './base/adagrad.js';
export { AdamAlgorithm, type AdamOptions, AdamWAlgorithm } from './base/adam.js';
export { BaseOptimizer, baseProgram, plainAlgorithm, validateBaseOptions } from './base/plain.js';
export { baseAlgorithms, checkBaseAlgorithm } from './base/registry.js';
export { RMSpropAlgorithm, type RMSpropOptions } from './base/rmsprop.js';
export { SGDAlgorithm, type SGDOptions } from './base/sgd.js';
export * from './base/types.js';
export { typedArrayFactory } from './replay-factory.js';
export * from './typed-array.js';
export {
  type ScheduleFreeWrapperOptions,
  scheduleFreeWrapperAlgorithm,
  wrapperDefaults,
  wrapperSchema,
} from './wrapper-algorithm.js';

import type { BaseAlgorithm } from './base/types.js';
import { type ScheduleFreeWrapperOptions, scheduleFreeWrapperAlgorithm } from './wrapper-algorithm.js';

/** The fused wrapper around a base algorithm, as a core Algorithm (for adapters). */
export const ScheduleFreeWrapperAlgorithm = <O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  options?: Partial<ScheduleFreeWrapperOptions>,
) => scheduleFreeWrapperAlgorithm(base, options, false);

/** The reference wrapper (x, y, z stored) around a base algorithm, as a core Algorithm (for adapters). */
export const ScheduleFreeWrapperReferenceAlgorithm = <O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  options?: Partial<ScheduleFreeWrapperOptions>,
) => scheduleFreeWrapperAlgorithm(base, options, true);
