import { nonNegative, type OptionRule } from '@schedulefree/core';

/** Shared option rules and hints of the base optimizers. */
export const lrRule = [nonNegative, 'Pass a learning rate ≥ 0.'] as const satisfies readonly [
  OptionRule,
  string,
];
export const weightDecayRule = [
  nonNegative,
  'Pass a decay ≥ 0 (0 disables it).',
] as const satisfies readonly [OptionRule, string];
