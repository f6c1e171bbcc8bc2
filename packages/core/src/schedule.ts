/**
 * The host-side scalar bookkeeping of Schedule-Free, as pure functions on plain numbers (float64).
 * Each is evaluated once per parameter group per step, before any tensor work.
 */

/** Linear warmup factor `(k+1)/warmupSteps` for the first `warmupSteps` steps, then 1. `k` counts from 0. */
export function warmupFactor(k: number, warmupSteps: number): number {
  return k < warmupSteps ? (k + 1) / warmupSteps : 1;
}

/** `1 − β^t`: Adam's bias correction after `t` updates of an EMA with decay β. */
export function biasCorrection(beta: number, t: number): number {
  return 1 - beta ** t;
}

/**
 * The lr factor of `AdamWScheduleFreePaper`: Adam's second-moment bias correction folded into the
 * learning rate, `sqrt(1 − β2^t)`, instead of dividing v by `1 − β2^t` (t is 1-based).
 */
export function paperLrFactor(beta2: number, t: number): number {
  return Math.sqrt(biasCorrection(beta2, t));
}

/** The running maximum of the scheduled learning rate, used for the averaging weights. */
export function nextLrMax(lrMax: number, scheduledLr: number): number {
  return Math.max(scheduledLr, lrMax);
}

/** Averaging weight of step `k` (0-based): `(k+1)^r · lrMax^weightLrPower` (with `0^0 = 1`). */
export function averagingWeight(k: number, lrMax: number, r: number, weightLrPower: number): number {
  return (k + 1) ** r * lrMax ** weightLrPower;
}

/**
 * The weight `c` of the new z in the running average x: `weight / weightSum`, and 0 when both are 0
 * (a zero learning rate at the first steps must move nothing rather than divide by zero).
 */
export function averagingCoefficient(weight: number, weightSum: number): number {
  return weightSum === 0 ? 0 : weight / weightSum;
}

/** Result of {@link radamRectification}. */
export interface Rectification {
  /** Multiplier of the learning rate. */
  rect: number;
  /** Whether the step divides by the second-moment estimate (ρ_t > 4) or is a plain SGD step. */
  adaptive: boolean;
}

/**
 * RAdam's variance rectification at update `t` (1-based): with ρ∞ = 2/(1−β2) − 1 and
 * ρ_t = ρ∞ − 2tβ2^t/(1−β2^t), the step is adaptive once ρ_t > 4 and its lr is scaled by
 * sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)). Before that the lr factor is 0 (silent phase) or 1.
 */
export function radamRectification(beta2: number, t: number, silentSgdPhase: boolean): Rectification {
  const beta2t = beta2 ** t;
  const rhoInf = 2 / (1 - beta2) - 1;
  const rhoT = rhoInf - (2 * t * beta2t) / (1 - beta2t);
  if (rhoT > 4) {
    const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
    return { rect, adaptive: true };
  }
  return { rect: silentSgdPhase ? 0 : 1, adaptive: false };
}

/** Per-group counters of the schedule, saved in state dicts. */
export type ScheduleCounters = {
  /** Steps taken so far (the 0-based index of the next step). */
  k: number;
  /** Running max of the scheduled lr (0 before the first step). */
  lrMax: number;
  /** Sum of averaging weights so far. */
  weightSum: number;
  /** The lr used by the last step, for logging. */
  scheduledLr: number;
};

/** The counters of a group that has taken no step. */
export const initialCounters: Readonly<ScheduleCounters> = Object.freeze({
  k: 0,
  lrMax: 0,
  weightSum: 0,
  scheduledLr: 0,
});

/** One step of the schedule block: the next counters and the averaging coefficient `c`. */
export interface ScheduleStep {
  counters: ScheduleCounters;
  /** Scheduled lr γ_t of this step. */
  lr: number;
  /** Weight of the new z in x. */
  c: number;
}

/**
 * Advances the schedule block by one step given this step's scheduled lr (already including warmup
 * and any algorithm factor such as RAdam's rectification).
 */
export function advanceSchedule(
  counters: ScheduleCounters,
  scheduledLr: number,
  r: number,
  weightLrPower: number,
): ScheduleStep {
  const lrMax = nextLrMax(counters.lrMax, scheduledLr);
  const weight = averagingWeight(counters.k, lrMax, r, weightLrPower);
  const weightSum = counters.weightSum + weight;
  return {
    counters: { k: counters.k + 1, lrMax, weightSum, scheduledLr },
    lr: scheduledLr,
    c: averagingCoefficient(weight, weightSum),
  };
}
