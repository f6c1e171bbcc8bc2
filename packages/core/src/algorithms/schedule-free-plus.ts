import type { Algorithm, Counters, StepContext, StepPlan } from '../algorithm.js';
import {
  inRange,
  nonNegative,
  nonNegativeInteger,
  type OptionSchema,
  pair,
  positive,
  validateOptions,
} from '../options.js';
import { defineReduction, type ReductionProgram } from '../program.js';
import { averagingWeight, biasCorrection } from '../schedule.js';
import { copyProgram, type DirectionConfig, referenceStepProgram } from './programs.js';

/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper` of the reference package, 2026-05): Schedule-Free
 * averaging with its own outer momentum `sfBeta1` (optionally annealed in log space), AdamC weight
 * decay (scaled by γ²), and a Polyak step size computed each step from the loss and two sums over
 * every parameter: ρ = max(0, F + β̃·Σ g·(z − x)) / ê, with ê an EMA of √(π/2)·Σ|g|. Parameters,
 * like the reference classes', keep x, y and z explicitly; train/eval switches copy.
 */

/** Options of `AdamCScheduleFreePlusPaper`. */
export interface AdamCScheduleFreePlusPaperOptions {
  /** Base learning rate, multiplied by the Polyak step size each step (default 1). */
  lr: number;
  /** `[β1, β2]`: the inner Adam moments' decays (default [0.9, 0.95]). */
  betas: [number, number];
  /** The Schedule-Free interpolation β̃ between x and z (default 0.9). */
  sfBeta1: number;
  /** Added to the denominator; also the floor of the learning rate (default 1e-8). */
  eps: number;
  /** AdamC weight decay, scaled by γ²: useful values are O(10–50) (default 0). */
  weightDecay: number;
  /** Exponent r of the polynomial averaging weight (default 0). */
  r: number;
  /** EMA decay of the L1 norm in the Polyak denominator (default 0: no averaging). */
  polyakBeta: number;
  /** Steps with c = 1 (x follows z) before averaging starts (default 0). */
  cWarmup: number;
  /** Steps over which 1 − sfBeta1 is annealed in log space towards 1 − sfBeta1Max (0: none). */
  sfBeta1AnnealSteps: number;
  /** The interpolation β̃ reached at the end of the annealing (default 0.965). */
  sfBeta1Max: number;
  /** Exponent of `lrMax` in the averaging weight (default 2). */
  weightLrPower: number;
}

const DEFAULTS: AdamCScheduleFreePlusPaperOptions = {
  lr: 1.0,
  betas: [0.9, 0.95],
  sfBeta1: 0.9,
  eps: 1e-8,
  weightDecay: 0,
  r: 0,
  polyakBeta: 0,
  cWarmup: 0,
  sfBeta1AnnealSteps: 0,
  sfBeta1Max: 0.965,
  weightLrPower: 2,
};

const beta = inRange(0, 1, { hi: true });
const SCHEMA: OptionSchema<AdamCScheduleFreePlusPaperOptions> = {
  lr: [nonNegative, 'Pass a learning rate ≥ 0 (the Polyak step size scales it; the reference uses 1).'],
  betas: [pair(beta, beta), 'β1 and β2 in [0, 1) decay the inner Adam moments (defaults 0.9, 0.95).'],
  sfBeta1: [inRange(0, 1, { hi: true }), 'β̃ in [0, 1) interpolates y between x and z (default 0.9).'],
  eps: [positive, 'Pass a small positive number such as 1e-8.'],
  weightDecay: [nonNegative, 'Pass a decay ≥ 0; AdamC scales it by γ², so useful values are O(10–50).'],
  r: [nonNegative, 'Pass r ≥ 0 (0: uniform averaging).'],
  polyakBeta: [beta, 'Pass an EMA decay in [0, 1) (0: no averaging).'],
  cWarmup: [nonNegativeInteger, 'Pass a whole number of steps ≥ 0.'],
  sfBeta1AnnealSteps: [nonNegativeInteger, 'Pass a whole number of steps ≥ 0 (0: no annealing).'],
  sfBeta1Max: [inRange(0, 1, { hi: true }), 'Pass the final β̃ in [0, 1) (default 0.965).'],
  weightLrPower: [nonNegative, 'Pass a power ≥ 0 (default 2).'],
};

/** The inner Adam direction with first and second moments, bias-corrected: m̂ / (√v̂ + eps). */
const DIRECTION: DirectionConfig = { secondMoment: true, normalize: true, innerMomentum: true };

/** Σ|g| and Σ g·(z − x) over every element. */
const polyakSums: ReductionProgram = defineReduction({
  key: 'sf-plus-polyak-sums',
  inputs: ['grad', 'z', 'x'],
  scalars: [],
  outputs: ['l1', 'ip'],
  body: (ops, t) => ({ l1: ops.abs(t.grad), ip: ops.mul(t.grad, ops.sub(t.z, t.x)) }),
});

/** √(π/2): E|g| = σ·√(2/π) for Gaussian g, so this turns an L1 norm into a scale estimate. */
const SQRT_HALF_PI = Math.sqrt(Math.PI / 2);

/** β̃ at step k: sfBeta1, or annealed in log(1 − β̃) towards sfBeta1Max. */
export function sfBeta1At(o: AdamCScheduleFreePlusPaperOptions, k: number): number {
  if (o.sfBeta1AnnealSteps <= 0) return o.sfBeta1;
  const p = Math.min(k / o.sfBeta1AnnealSteps, 1);
  return 1 - Math.exp((1 - p) * Math.log(1 - o.sfBeta1) + p * Math.log(1 - o.sfBeta1Max));
}

/**
 * The Polyak step size: ρ = max(0, F + β̃·IP) / ê and the stored EMA (the reference stores the
 * bias-corrected ê, and reads it back as the raw EMA next step: kept). Where every gradient is zero
 * the reference divides by zero; here ρ = 0 (nothing moves), like the lr = 0 guard elsewhere.
 */
export function polyakStep(
  loss: number,
  sums: Readonly<Record<string, number>>,
  ema: number,
  polyakBeta: number,
  k: number,
  sfBeta: number,
): { rho: number; ema: number } {
  const raw = polyakBeta * ema + (1 - polyakBeta) * sums.l1 * SQRT_HALF_PI;
  const corrected = raw / (1 - polyakBeta ** (k + 1));
  const numerator = Math.max(0, loss + sfBeta * sums.ip);
  return { rho: corrected > 0 ? numerator / corrected : 0, ema: corrected };
}

function plan(
  options: readonly AdamCScheduleFreePlusPaperOptions[],
  counters: readonly Counters[],
  context: StepContext,
): StepPlan[] {
  // The reference reads the step counter, betas, eps and the Polyak settings from group 0.
  const shared = options[0];
  const k = counters[0].k;
  const sfBeta = sfBeta1At(shared, k);
  const { rho, ema } = polyakStep(
    context.loss ?? 0,
    context.sums ?? { l1: 0, ip: 0 },
    counters[0].gradL1Ema,
    shared.polyakBeta,
    k,
    sfBeta,
  );
  const [beta1, beta2] = shared.betas;
  const t = k + 1;
  return options.map((o, gi) => {
    const c0 = counters[gi];
    const lr = Math.max(o.lr, shared.eps) * rho;
    // lr_max starts at eps in the reference.
    const lrMax = Math.max(lr, c0.lrMax, shared.eps);
    let weightSum = c0.weightSum;
    let c: number;
    if (k < o.cWarmup) c = 1;
    else {
      const weight = averagingWeight(k, lrMax, o.r, o.weightLrPower);
      weightSum += weight;
      c = weightSum === 0 ? 0 : weight / weightSum;
    }
    const decay = o.weightDecay !== 0;
    const scalars: Record<string, number> = {
      beta2,
      oneMinusBeta2: 1 - beta2,
      bc2: biasCorrection(beta2, t),
      eps: shared.eps,
      mu: beta1,
      oneMinusMu: 1 - beta1,
      bc1: biasCorrection(beta1, t),
      lr,
      c,
      yWeight: 1 - sfBeta,
    };
    if (decay) scalars.lrWd = lr * lr * o.weightDecay;
    return {
      program: referenceStepProgram(DIRECTION, decay ? 'z-at-y' : 'none'),
      scalars,
      counters: { k: c0.k + 1, lrMax, weightSum, scheduledLr: lr, gradL1Ema: ema },
    };
  });
}

/** ScheduleFree+ as a core algorithm (reference kind: x, y, z stored; copy-based modes). */
export const AdamCScheduleFreePlusPaperAlgorithm: Algorithm<AdamCScheduleFreePlusPaperOptions> =
  Object.freeze({
    name: 'AdamCScheduleFreePlusPaper',
    kind: 'reference' as const,
    defaults: Object.freeze({ ...DEFAULTS, betas: [...DEFAULTS.betas] as [number, number] }),
    needsLoss: true,
    validate(options: Readonly<Record<string, unknown>>, where: string) {
      validateOptions(where, SCHEMA, options);
    },
    slots: () => [
      { name: 'z', init: 'clone' as const },
      { name: 'x', init: 'clone' as const },
      { name: 'y', init: 'clone' as const },
      { name: 'v', init: 'zeros' as const },
      { name: 'm', init: 'zeros' as const },
    ],
    initialCounters: () => ({ k: 0, lrMax: 0, weightSum: 0, scheduledLr: 0, gradL1Ema: 0 }),
    reduction: () => ({ program: polyakSums, scalars: {} }),
    planSteps: (
      options: readonly AdamCScheduleFreePlusPaperOptions[],
      counters: readonly Counters[],
      context: StepContext,
    ) => plan(options, counters, context),
    planStep(o: AdamCScheduleFreePlusPaperOptions, counters: Counters): StepPlan {
      // A single group without its step context: the structure only (ρ = 0).
      return plan([o], [counters], {})[0];
    },
    moveTo: (_o: AdamCScheduleFreePlusPaperOptions, target: 'x' | 'y') => ({
      program: copyProgram(target),
      scalars: {},
    }),
    describe: (_o: AdamCScheduleFreePlusPaperOptions, counters: Counters) => ({ ...counters }),
  });
