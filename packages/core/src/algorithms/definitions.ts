import type { Algorithm, AlgorithmKind, Counters, ProgramRun, SlotSpec, StepPlan } from '../algorithm.js';
import {
  boolean,
  inRange,
  nonNegative,
  nonNegativeInteger,
  type OptionSchema,
  pair,
  positive,
  validateOptions,
} from '../options.js';
import {
  advanceSchedule,
  biasCorrection,
  initialCounters,
  paperLrFactor,
  radamRectification,
  type ScheduleCounters,
  warmupFactor,
} from '../schedule.js';
import {
  closureStepProgram,
  copyProgram,
  type DirectionConfig,
  fusedStepProgram,
  lerpToZProgram,
  type ReferenceDecay,
  referenceStepProgram,
} from './programs.js';
import { AdamCScheduleFreePlusPaperAlgorithm } from './schedule-free-plus.js';

/** Options every Schedule-Free class shares. */
export interface ScheduleOptions {
  /** Learning rate γ (before warmup). */
  lr: number;
  /** Weight decay λ, computed at y. */
  weightDecay: number;
  /** Exponent r of the polynomial averaging weight `(k+1)^r`. */
  r: number;
  /** Exponent of `lrMax` in the averaging weight. */
  weightLrPower: number;
}

export interface WarmupOptions {
  /** Linear warmup length in steps (0: none). */
  warmupSteps: number;
}

/** Options of `SGDScheduleFree`, `SGDScheduleFreeClosure` and `SGDScheduleFreeReference`. */
export interface SGDScheduleFreeOptions extends ScheduleOptions, WarmupOptions {
  /** Interpolation β between x and z (y = β·x + (1−β)·z). */
  momentum: number;
}

/** Options shared by the Adam-family classes. */
export interface AdamFamilyOptions extends ScheduleOptions {
  /** `[β1, β2]`: β1 is the interpolation β; β2 the second-moment decay. */
  betas: [number, number];
  /** Added to the denominator, outside the square root. */
  eps: number;
}

/** Options of `AdamWScheduleFree`. */
export interface AdamWScheduleFreeOptions extends AdamFamilyOptions, WarmupOptions {
  /** Decay μ of an optional first-moment EMA inside the base step (0: none). */
  innerMomentum: number;
}

/** Options of `AdamWScheduleFreeClosure` and `AdamWScheduleFreePaper`. */
export interface AdamWScheduleFreeClosureOptions extends AdamFamilyOptions, WarmupOptions {}
export type AdamWScheduleFreePaperOptions = AdamWScheduleFreeClosureOptions;

/** Options of `AdamWScheduleFreeReference`. */
export interface AdamWScheduleFreeReferenceOptions extends AdamWScheduleFreeOptions {
  /** Apply weight decay at z instead of y. */
  decayAtZ: boolean;
}

/** Options of `RAdamScheduleFree` and `RAdamScheduleFreeClosure` (no warmup: rectification replaces it). */
export interface RAdamScheduleFreeOptions extends AdamFamilyOptions {
  /** Freeze parameters (lr 0) until the rectification applies, instead of plain SGD steps. */
  silentSgdPhase: boolean;
}

const HINT = {
  lr: 'Pass a learning rate ≥ 0 (Schedule-Free AdamW typically 1e-3…1e-2, SGD 0.1…10).',
  weightDecay: 'Pass a decay ≥ 0 (0 disables it).',
  r: 'Pass r ≥ 0 (0: uniform averaging).',
  weightLrPower: 'Pass a power ≥ 0 (default 2).',
  warmupSteps: 'Pass a whole number of steps ≥ 0 (0: no warmup).',
  momentum: 'β interpolates y between x and z; typical values are 0.9…0.98.',
  betas:
    'β1 interpolates y between x and z (typical 0.9…0.98); β2 in [0, 1) decays the second moment (typical 0.999).',
  eps: 'Pass a small positive number such as 1e-8.',
  innerMomentum: 'Pass μ in [0, 1) (0 disables the inner momentum).',
  decayAtZ: 'Pass true or false.',
  silentSgdPhase: 'Pass true or false.',
};

const scheduleSchema: OptionSchema<ScheduleOptions> = {
  lr: [nonNegative, HINT.lr],
  weightDecay: [nonNegative, HINT.weightDecay],
  r: [nonNegative, HINT.r],
  weightLrPower: [nonNegative, HINT.weightLrPower],
};
const warmupSchema: OptionSchema<WarmupOptions> = { warmupSteps: [nonNegativeInteger, HINT.warmupSteps] };

/** β must be in (0, 1) where x is recovered as (y − (1−β)z)/β; the reference classes accept [0, 1]. */
const interpolationRange = (kind: AlgorithmKind) =>
  kind === 'reference' ? inRange(0, 1) : inRange(0, 1, { lo: true, hi: true });
const adamSchema = (kind: AlgorithmKind): OptionSchema<AdamFamilyOptions> => ({
  ...scheduleSchema,
  betas: [pair(interpolationRange(kind), inRange(0, 1, { hi: true })), HINT.betas],
  eps: [positive, HINT.eps],
});

/** Variant-specific pieces from which {@link makeAlgorithm} builds an {@link Algorithm}. */
interface Variant<O extends ScheduleOptions> {
  name: string;
  kind: AlgorithmKind;
  defaults: O;
  schema: OptionSchema<O>;
  beta(o: O): number;
  /** This step's lr factor (warmup, bias correction, rectification), direction and its scalars. */
  direction(
    o: O,
    k: number,
  ): { lrFactor: number; config: DirectionConfig; scalars: Record<string, number>; innerMomentum?: boolean };
  referenceDecay?(o: O): ReferenceDecay;
}

const SGD_DIRECTION: DirectionConfig = { secondMoment: false, normalize: false, innerMomentum: false };

function adamDirection(
  o: AdamFamilyOptions,
  t: number,
  normalize: boolean,
  innerMomentum: number,
  bc2 = biasCorrection(o.betas[1], t),
): { config: DirectionConfig; scalars: Record<string, number> } {
  const beta2 = o.betas[1];
  const scalars: Record<string, number> = { beta2, oneMinusBeta2: 1 - beta2 };
  if (normalize) Object.assign(scalars, { bc2, eps: o.eps });
  if (innerMomentum !== 0) {
    Object.assign(scalars, {
      mu: innerMomentum,
      oneMinusMu: 1 - innerMomentum,
      bc1: biasCorrection(innerMomentum, t),
    });
  }
  return { config: { secondMoment: true, normalize, innerMomentum: innerMomentum !== 0 }, scalars };
}

function makeAlgorithm<O extends ScheduleOptions>(v: Variant<O>): Algorithm<O> {
  return Object.freeze({
    name: v.name,
    kind: v.kind,
    defaults: Object.freeze({ ...v.defaults }),
    validate(options: Readonly<Record<string, unknown>>, where: string) {
      validateOptions(where, v.schema, options);
    },
    slots(o: O): SlotSpec[] {
      const { config } = v.direction(o, 0);
      return [
        { name: 'z', init: 'clone' },
        ...(v.kind === 'reference'
          ? ([
              { name: 'x', init: 'clone' },
              { name: 'y', init: 'clone' },
            ] as const)
          : []),
        ...(config.secondMoment ? [{ name: 'v', init: 'zeros' } as const] : []),
        ...(config.innerMomentum ? [{ name: 'm', init: 'zeros' } as const] : []),
      ];
    },
    initialCounters: () => ({ ...initialCounters }),
    planStep(o: O, counters: Counters): StepPlan {
      const c0 = counters as unknown as ScheduleCounters;
      const { lrFactor, config, scalars } = v.direction(o, c0.k);
      const step = advanceSchedule(c0, o.lr * lrFactor, o.r, o.weightLrPower);
      const { lr, c } = step;
      const beta = v.beta(o);
      const decay = o.weightDecay !== 0;
      const run = { ...scalars, lr, c } as Record<string, number>;
      if (v.kind === 'reference') {
        const refDecay = decay ? v.referenceDecay!(o) : 'none';
        if (refDecay === 'grad-at-y') run.wd = o.weightDecay;
        else if (refDecay !== 'none') run.lrWd = lr * o.weightDecay;
        run.yWeight = 1 - beta;
        return { counters: step.counters, program: referenceStepProgram(config, refDecay), scalars: run };
      }
      if (decay) run.wd = o.weightDecay;
      if (v.kind === 'closure') {
        run.toX = 1 - 1 / beta;
        return { counters: step.counters, program: closureStepProgram(config, decay), scalars: run };
      }
      run.yCoef = lr * (beta * (1 - c) - 1);
      return { counters: step.counters, program: fusedStepProgram(config, decay), scalars: run };
    },
    moveTo(o: O, target: 'x' | 'y'): ProgramRun {
      if (v.kind === 'reference') return { program: copyProgram(target), scalars: {} };
      const beta = v.beta(o);
      return { program: lerpToZProgram, scalars: { w: target === 'x' ? 1 - 1 / beta : 1 - beta } };
    },
    describe: (_o: O, counters: Counters) => ({ ...counters }),
  });
}

const SGD_DEFAULTS: SGDScheduleFreeOptions = {
  lr: 1.0,
  momentum: 0.9,
  weightDecay: 0,
  warmupSteps: 0,
  r: 0,
  weightLrPower: 2,
};

function sgdVariant(name: string, kind: AlgorithmKind): Algorithm<SGDScheduleFreeOptions> {
  return makeAlgorithm<SGDScheduleFreeOptions>({
    name,
    kind,
    defaults: SGD_DEFAULTS,
    schema: { ...scheduleSchema, ...warmupSchema, momentum: [interpolationRange(kind), HINT.momentum] },
    beta: (o) => o.momentum,
    direction: (o, k) => ({ lrFactor: warmupFactor(k, o.warmupSteps), config: SGD_DIRECTION, scalars: {} }),
    referenceDecay: () => 'grad-at-y',
  });
}

/** SF-SGD: param holds y in train mode; one extra buffer z. */
export const SGDScheduleFreeAlgorithm = sgdVariant('SGDScheduleFree', 'fused');
/** SF-SGD driven by a closure; param holds x between steps. */
export const SGDScheduleFreeClosureAlgorithm = sgdVariant('SGDScheduleFreeClosure', 'closure');
/** SF-SGD keeping x, y and z explicitly; exact mode switches; accepts β in [0, 1]. */
export const SGDScheduleFreeReferenceAlgorithm = sgdVariant('SGDScheduleFreeReference', 'reference');

const ADAM_BASE = {
  lr: 0.0025,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0,
  r: 0,
  weightLrPower: 2,
};

function adamwVariant<O extends AdamWScheduleFreeClosureOptions>(
  name: string,
  kind: AlgorithmKind,
  defaults: O,
  schema: OptionSchema<O>,
): Algorithm<O> {
  return makeAlgorithm<O>({
    name,
    kind,
    defaults,
    schema,
    beta: (o) => o.betas[0],
    direction(o, k) {
      const mu = 'innerMomentum' in o ? (o as unknown as AdamWScheduleFreeOptions).innerMomentum : 0;
      return { lrFactor: warmupFactor(k, o.warmupSteps), ...adamDirection(o, k + 1, true, mu) };
    },
    referenceDecay: (o) =>
      (o as unknown as AdamWScheduleFreeReferenceOptions).decayAtZ ? 'z-at-z' : 'z-at-y',
  });
}

const innerMomentumRule = [inRange(0, 1, { hi: true }), HINT.innerMomentum] as const;

/** SF-AdamW (v1.3+): bias correction inside the denominator, decay at y, optional inner momentum. */
export const AdamWScheduleFreeAlgorithm = adamwVariant<AdamWScheduleFreeOptions>(
  'AdamWScheduleFree',
  'fused',
  { ...ADAM_BASE, warmupSteps: 0, innerMomentum: 0 },
  { ...adamSchema('fused'), ...warmupSchema, innerMomentum: innerMomentumRule },
);
/** Closure form of SF-AdamW. */
export const AdamWScheduleFreeClosureAlgorithm = adamwVariant<AdamWScheduleFreeClosureOptions>(
  'AdamWScheduleFreeClosure',
  'closure',
  { ...ADAM_BASE, warmupSteps: 0 },
  { ...adamSchema('closure'), ...warmupSchema },
);
/** SF-AdamW keeping x, y and z; decay at y (or z with `decayAtZ`) applied to z first. */
export const AdamWScheduleFreeReferenceAlgorithm = adamwVariant<AdamWScheduleFreeReferenceOptions>(
  'AdamWScheduleFreeReference',
  'reference',
  { ...ADAM_BASE, warmupSteps: 0, innerMomentum: 0, decayAtZ: false },
  {
    ...adamSchema('reference'),
    ...warmupSchema,
    innerMomentum: innerMomentumRule,
    decayAtZ: [boolean, HINT.decayAtZ],
  },
);

/**
 * SF-AdamW as in the paper's experiments (pre-1.3): `sqrt(1 − β2^t)` folded into the lr (hence into
 * the averaging weights and the decay), denominator `sqrt(v) + eps`.
 */
export const AdamWScheduleFreePaperAlgorithm = makeAlgorithm<AdamWScheduleFreePaperOptions>({
  name: 'AdamWScheduleFreePaper',
  kind: 'fused',
  defaults: { ...ADAM_BASE, warmupSteps: 0 },
  schema: { ...adamSchema('fused'), ...warmupSchema },
  beta: (o) => o.betas[0],
  direction(o, k) {
    // Dividing v by exactly 1 keeps the shared program while leaving v uncorrected.
    return {
      lrFactor: warmupFactor(k, o.warmupSteps) * paperLrFactor(o.betas[1], k + 1),
      ...adamDirection(o, k + 1, true, 0, 1),
    };
  },
});

function radamVariant(name: string, kind: AlgorithmKind): Algorithm<RAdamScheduleFreeOptions> {
  return makeAlgorithm<RAdamScheduleFreeOptions>({
    name,
    kind,
    defaults: { ...ADAM_BASE, silentSgdPhase: true },
    schema: { ...adamSchema(kind), silentSgdPhase: [boolean, HINT.silentSgdPhase] },
    beta: (o) => o.betas[0],
    direction(o, k) {
      const { rect, adaptive } = radamRectification(o.betas[1], k + 1, o.silentSgdPhase);
      return { lrFactor: rect, ...adamDirection(o, k + 1, adaptive, 0) };
    },
  });
}

/** SF-RAdam: the rectified lr replaces warmup; by default silent for the first steps. */
export const RAdamScheduleFreeAlgorithm = radamVariant('RAdamScheduleFree', 'fused');
/** Closure form of SF-RAdam. */
export const RAdamScheduleFreeClosureAlgorithm = radamVariant('RAdamScheduleFreeClosure', 'closure');

/** Every Schedule-Free algorithm of this package, by class name. */
export const scheduleFreeAlgorithms = {
  SGDScheduleFree: SGDScheduleFreeAlgorithm,
  SGDScheduleFreeClosure: SGDScheduleFreeClosureAlgorithm,
  SGDScheduleFreeReference: SGDScheduleFreeReferenceAlgorithm,
  AdamWScheduleFree: AdamWScheduleFreeAlgorithm,
  AdamWScheduleFreeClosure: AdamWScheduleFreeClosureAlgorithm,
  AdamWScheduleFreeReference: AdamWScheduleFreeReferenceAlgorithm,
  AdamWScheduleFreePaper: AdamWScheduleFreePaperAlgorithm,
  RAdamScheduleFree: RAdamScheduleFreeAlgorithm,
  RAdamScheduleFreeClosure: RAdamScheduleFreeClosureAlgorithm,
  AdamCScheduleFreePlusPaper: AdamCScheduleFreePlusPaperAlgorithm,
} as const;
