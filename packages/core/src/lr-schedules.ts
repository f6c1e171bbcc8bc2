/**
 * Learning-rate schedules as pure functions `step → lr`, for comparing Schedule-Free against the
 * schedules people use today and for warming up any optimizer.
 *
 * Convention: `step` is the number of optimizer steps already taken (0 for the first step), so
 * `schedule(t)` is the lr to use for step `t + 1`. Fractional steps are accepted (e.g. epochs).
 * Nothing here depends on an optimizer: set the result wherever your optimizer keeps its lr, e.g.
 * `opt.paramGroups[0].lr = schedule(t)` before each `opt.step(grads)`.
 */
import { check } from './errors.js';

/** A learning-rate schedule: steps taken so far (≥ 0) → the learning rate of the next step. */
export type LrSchedule = (step: number) => number;

function checkNumber(where: string, name: string, value: number, rule: 'nonNegative' | 'positive'): void {
  const ok = Number.isFinite(value) && (rule === 'positive' ? value > 0 : value >= 0);
  check(
    ok,
    'INVALID_OPTION',
    () => `${where}: "${name}" must be a finite number ${rule === 'positive' ? '> 0' : '≥ 0'}, got ${value}.`,
  );
}

function checkInteger(where: string, name: string, value: number, min: number): void {
  check(
    Number.isInteger(value) && value >= min,
    'INVALID_OPTION',
    () => `${where}: "${name}" must be an integer ≥ ${min}, got ${value}.`,
  );
}

/** Guards the step argument: schedules are only defined for steps ≥ 0. */
function stepGuard(where: string, schedule: LrSchedule): LrSchedule {
  return (step) => {
    check(
      Number.isFinite(step) && step >= 0,
      'INVALID_OPTION',
      () => `${where}: the step must be a finite number ≥ 0, got ${step}.`,
    );
    return schedule(step);
  };
}

/** Fraction of a horizon elapsed, clamped to [0, 1]. */
const progress = (step: number, totalSteps: number) => Math.min(step / totalSteps, 1);

/** The same learning rate at every step. */
export function constantLr(lr: number): LrSchedule {
  checkNumber('constantLr', 'lr', lr, 'nonNegative');
  return stepGuard('constantLr', () => lr);
}

/** Options of {@link cosineLr}. */
export interface CosineLrOptions {
  /** Peak learning rate, used at step 0. */
  lr: number;
  /** Steps over which the lr falls to `minLr`; it stays there afterwards. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/** Cosine annealing: `minLr + (lr − minLr)·(1 + cos(π·t/T))/2`, then `minLr` after `T` steps. */
export function cosineLr({ lr, totalSteps, minLr = 0 }: CosineLrOptions): LrSchedule {
  checkNumber('cosineLr', 'lr', lr, 'nonNegative');
  checkNumber('cosineLr', 'totalSteps', totalSteps, 'positive');
  checkNumber('cosineLr', 'minLr', minLr, 'nonNegative');
  return stepGuard(
    'cosineLr',
    (t) => minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress(t, totalSteps)))) / 2,
  );
}

/** Options of {@link polynomialDecayLr}. */
export interface PolynomialDecayLrOptions {
  /** Learning rate at step 0. */
  lr: number;
  /** Steps over which the lr falls to `endLr`; it stays there afterwards. */
  totalSteps: number;
  /** Degree p of the decay (1: linear; 2: quadratic). Default 1. */
  power?: number;
  /** Final learning rate (default 0). */
  endLr?: number;
}

/**
 * Polynomial decay `endLr + (lr − endLr)·(1 − t/T)^p`, the family analysed by Attia & Koren (2025):
 * larger `p` anneals harder near the end and tolerates an over-estimated `lr` better.
 */
export function polynomialDecayLr({
  lr,
  totalSteps,
  power = 1,
  endLr = 0,
}: PolynomialDecayLrOptions): LrSchedule {
  checkNumber('polynomialDecayLr', 'lr', lr, 'nonNegative');
  checkNumber('polynomialDecayLr', 'totalSteps', totalSteps, 'positive');
  checkNumber('polynomialDecayLr', 'power', power, 'positive');
  checkNumber('polynomialDecayLr', 'endLr', endLr, 'nonNegative');
  return stepGuard('polynomialDecayLr', (t) => endLr + (lr - endLr) * (1 - progress(t, totalSteps)) ** power);
}

/** Linear decay `lr·(1 − t/T)` to `endLr` (default 0): {@link polynomialDecayLr} with `power: 1`. */
export function linearDecayLr(options: Omit<PolynomialDecayLrOptions, 'power'>): LrSchedule {
  return polynomialDecayLr({ ...options, power: 1 });
}

/** Options of {@link inverseSqrtLr}. */
export interface InverseSqrtLrOptions {
  /** Learning rate at step 0. */
  lr: number;
  /** Steps over which the decay sets in: `lr / sqrt(1 + t/timescale)` (default 1, i.e. `lr/√(t+1)`). */
  timescale?: number;
}

/** Inverse-square-root decay `lr / sqrt(1 + t/timescale)`: the classical `η/√t` with 1-based t. */
export function inverseSqrtLr({ lr, timescale = 1 }: InverseSqrtLrOptions): LrSchedule {
  checkNumber('inverseSqrtLr', 'lr', lr, 'nonNegative');
  checkNumber('inverseSqrtLr', 'timescale', timescale, 'positive');
  return stepGuard('inverseSqrtLr', (t) => lr / Math.sqrt(1 + t / timescale));
}

/** Options of {@link stepLr}. */
export interface StepLrOptions {
  /** Learning rate before the first decay. */
  lr: number;
  /** The lr is multiplied by `gamma` every `stepSize` steps. */
  stepSize: number;
  /** Decay factor (default 0.1). */
  gamma?: number;
}

/** Step decay `lr·gamma^⌊t/stepSize⌋` (PyTorch's `StepLR`). */
export function stepLr({ lr, stepSize, gamma = 0.1 }: StepLrOptions): LrSchedule {
  checkNumber('stepLr', 'lr', lr, 'nonNegative');
  checkNumber('stepLr', 'stepSize', stepSize, 'positive');
  checkNumber('stepLr', 'gamma', gamma, 'nonNegative');
  return stepGuard('stepLr', (t) => lr * gamma ** Math.floor(t / stepSize));
}

/** Options of {@link multiStepLr}. */
export interface MultiStepLrOptions {
  /** Learning rate before the first milestone. */
  lr: number;
  /** Steps at which the lr is multiplied by `gamma` (from that step on), increasing. */
  milestones: readonly number[];
  /** Decay factor (default 0.1). */
  gamma?: number;
}

/** Decay by `gamma` at each milestone: `lr·gamma^(number of milestones ≤ t)` (PyTorch's `MultiStepLR`). */
export function multiStepLr({ lr, milestones, gamma = 0.1 }: MultiStepLrOptions): LrSchedule {
  checkNumber('multiStepLr', 'lr', lr, 'nonNegative');
  checkNumber('multiStepLr', 'gamma', gamma, 'nonNegative');
  check(
    Array.isArray(milestones) &&
      milestones.every((m, i) => Number.isFinite(m) && m >= 0 && (i === 0 || m > milestones[i - 1])),
    'INVALID_OPTION',
    () => `multiStepLr: "milestones" must be increasing numbers ≥ 0, got ${JSON.stringify(milestones)}.`,
  );
  const sorted = [...milestones];
  return stepGuard('multiStepLr', (t) => {
    let passed = 0;
    while (passed < sorted.length && sorted[passed] <= t) passed++;
    return lr * gamma ** passed;
  });
}

/**
 * Linear warmup in front of any schedule: for `t < warmupSteps` the lr is
 * `schedule(0)·(t+1)/warmupSteps` (the same ramp as the optimizers' `warmupSteps` option), and
 * afterwards `schedule(t − warmupSteps)`. The inner schedule starts when warmup ends, so a run of
 * `T` steps with `W` warmup steps wants an inner schedule of `T − W` steps (see {@link lrSchedule},
 * which does this for you).
 */
export function withWarmup(schedule: LrSchedule, warmupSteps: number): LrSchedule {
  check(typeof schedule === 'function', 'INVALID_OPTION', () => 'withWarmup: "schedule" must be a function.');
  checkInteger('withWarmup', 'warmupSteps', warmupSteps, 0);
  if (warmupSteps === 0) return schedule;
  return stepGuard('withWarmup', (t) =>
    t < warmupSteps ? (schedule(0) * (Math.floor(t) + 1)) / warmupSteps : schedule(t - warmupSteps),
  );
}

/** Linear warmup to `lr`, then constant: `withWarmup(constantLr(lr), warmupSteps)`. */
export function linearWarmupLr({ lr, warmupSteps }: { lr: number; warmupSteps: number }): LrSchedule {
  return withWarmup(constantLr(lr), warmupSteps);
}

/**
 * A serialisable description of a schedule over a run of `totalSteps` steps, for configuration
 * files and experiment logs. `warmupSteps` (default 0) counts inside `totalSteps`.
 */
export type LrScheduleSpec = { lr: number; warmupSteps?: number } & (
  | { kind: 'constant' }
  | { kind: 'cosine'; totalSteps: number; minLr?: number }
  | { kind: 'linear'; totalSteps: number; endLr?: number }
  | { kind: 'polynomial'; totalSteps: number; power: number; endLr?: number }
  | { kind: 'inverse-sqrt'; timescale?: number }
  | { kind: 'step'; stepSize: number; gamma?: number }
  | { kind: 'multistep'; milestones: readonly number[]; gamma?: number }
);

/** The names {@link lrSchedule} accepts as `kind`. */
export const LR_SCHEDULE_KINDS = [
  'constant',
  'cosine',
  'linear',
  'polynomial',
  'inverse-sqrt',
  'step',
  'multistep',
] as const;

/**
 * Builds a schedule from its description. With `warmupSteps: W` and a horizon `totalSteps: T`, the
 * decay runs over the remaining `T − W` steps, so the lr reaches its end value at step `T`.
 *
 * @example
 * ```ts
 * const schedule = lrSchedule({ kind: 'cosine', lr: 1e-3, totalSteps: 10_000, warmupSteps: 500 });
 * for (let t = 0; t < 10_000; t++) {
 *   opt.paramGroups[0].lr = schedule(t);
 *   opt.step(grads());
 * }
 * ```
 */
export function lrSchedule(spec: LrScheduleSpec): LrSchedule {
  check(
    spec !== null && typeof spec === 'object' && (LR_SCHEDULE_KINDS as readonly string[]).includes(spec.kind),
    'INVALID_OPTION',
    () =>
      `lrSchedule: "kind" must be one of ${LR_SCHEDULE_KINDS.join(', ')}, got ${JSON.stringify((spec as { kind?: unknown })?.kind)}.`,
  );
  const warmupSteps = spec.warmupSteps ?? 0;
  checkInteger('lrSchedule', 'warmupSteps', warmupSteps, 0);
  const remaining = (totalSteps: number) => {
    checkNumber('lrSchedule', 'totalSteps', totalSteps, 'positive');
    check(
      totalSteps > warmupSteps,
      'INVALID_OPTION',
      () => `lrSchedule: "totalSteps" (${totalSteps}) must exceed "warmupSteps" (${warmupSteps}).`,
    );
    return totalSteps - warmupSteps;
  };
  const { lr } = spec;
  let inner: LrSchedule;
  switch (spec.kind) {
    case 'constant':
      inner = constantLr(lr);
      break;
    case 'cosine':
      inner = cosineLr({ lr, totalSteps: remaining(spec.totalSteps), minLr: spec.minLr });
      break;
    case 'linear':
      inner = linearDecayLr({ lr, totalSteps: remaining(spec.totalSteps), endLr: spec.endLr });
      break;
    case 'polynomial':
      inner = polynomialDecayLr({
        lr,
        totalSteps: remaining(spec.totalSteps),
        power: spec.power,
        endLr: spec.endLr,
      });
      break;
    case 'inverse-sqrt':
      inner = inverseSqrtLr({ lr, timescale: spec.timescale });
      break;
    case 'step':
      inner = stepLr({ lr, stepSize: spec.stepSize, gamma: spec.gamma });
      break;
    case 'multistep':
      inner = multiStepLr({ lr, milestones: spec.milestones, gamma: spec.gamma });
      break;
  }
  return withWarmup(inner, warmupSteps);
}
