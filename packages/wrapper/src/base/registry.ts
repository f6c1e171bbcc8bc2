import { check } from '@schedulefree/core';
import { AdagradAlgorithm } from './adagrad.js';
import { AdamAlgorithm, AdamWAlgorithm } from './adam.js';
import { RMSpropAlgorithm } from './rmsprop.js';
import { SGDAlgorithm } from './sgd.js';
import type { BaseAlgorithm } from './types.js';

/** The base algorithms of this package by their PyTorch class name (for adapters and configs). */
export const baseAlgorithms = {
  SGD: SGDAlgorithm,
  Adam: AdamAlgorithm,
  AdamW: AdamWAlgorithm,
  RMSprop: RMSpropAlgorithm,
  Adagrad: AdagradAlgorithm,
} as const;

/** Throws `INVALID_PARAMS` unless `base` looks like a {@link BaseAlgorithm}; `where` names the caller. */
export function checkBaseAlgorithm(
  where: string,
  base: unknown,
): asserts base is BaseAlgorithm<{ lr: number }> {
  const b = base as Partial<BaseAlgorithm<{ lr: number }>> | null;
  check(
    b != null && typeof b.plan === 'function' && typeof b.update === 'function',
    'INVALID_PARAMS',
    () =>
      `${where}: expected a base algorithm such as SGDAlgorithm or AdamWAlgorithm (baseAlgorithms of @schedulefree/wrapper).`,
  );
}
