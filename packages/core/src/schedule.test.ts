import { describe, expect, it } from 'vitest';
import {
  advanceSchedule,
  averagingCoefficient,
  initialCounters,
  radamRectification,
  type ScheduleCounters,
  warmupFactor,
} from './schedule.js';

/** Runs the schedule block for a sequence of scheduled lrs; returns c after each step. */
function coefficients(lrs: number[], r = 0, power = 2): { c: number[]; counters: ScheduleCounters } {
  let counters: ScheduleCounters = { ...initialCounters };
  const c = lrs.map((lr) => {
    const step = advanceSchedule(counters, lr, r, power);
    counters = step.counters;
    return step.c;
  });
  return { c, counters };
}

describe('schedule block', () => {
  it('warms up linearly over warmupSteps and then stays at 1', () => {
    expect([0, 1, 2, 3, 4].map((k) => warmupFactor(k, 3))).toEqual([1 / 3, 2 / 3, 1, 1, 1]);
    expect(warmupFactor(0, 0)).toBe(1);
  });

  it('gives c = 1 on the first step whatever r and the power are', () => {
    for (const [r, p] of [
      [0, 2],
      [1, 0],
      [0.75, 1],
    ]) {
      expect(coefficients([0.3], r, p).c[0]).toBe(1);
    }
  });

  it('averages uniformly (c = 1/t) at constant lr with r = 0', () => {
    coefficients(Array(20).fill(0.1)).c.forEach((c, i) => expect(c).toBeCloseTo(1 / (i + 1), 15));
  });

  it('matches the closed form c_t = 6t/((t+1)(2t+1)) during linear warmup with power 2', () => {
    const W = 10;
    const lrs = Array.from({ length: W }, (_, k) => warmupFactor(k, W));
    coefficients(lrs).c.forEach((c, i) => {
      const t = i + 1;
      expect(c).toBeCloseTo((6 * t) / ((t + 1) * (2 * t + 1)), 14);
    });
  });

  it('keeps weighting by the peak lr when an external schedule decays it', () => {
    const { counters } = coefficients([0.1, 0.2, 0.05, 0.01]);
    expect(counters.lrMax).toBe(0.2);
    expect(counters.weightSum).toBeCloseTo(0.01 + 3 * 0.04, 15);
  });

  it('never divides by zero: c = 0 while the lr is 0', () => {
    expect(averagingCoefficient(0, 0)).toBe(0);
    const { c, counters } = coefficients([0, 0, 0.1]);
    expect(c).toEqual([0, 0, 1]);
    expect(counters.weightSum).toBeCloseTo(0.01, 15);
  });

  it('with weightLrPower 0 weights are (k+1)^r even at lr 0', () => {
    expect(coefficients([0, 0], 1, 0).c).toEqual([1, 2 / 3]);
  });

  it("reproduces the spec's RAdam rectification values for β2 = 0.999", () => {
    for (let t = 1; t <= 4; t++)
      expect(radamRectification(0.999, t, true)).toEqual({ rect: 0, adaptive: false });
    expect(radamRectification(0.999, 4, false)).toEqual({ rect: 1, adaptive: false });
    expect(radamRectification(0.999, 5, true).rect).toBeCloseTo(0.0173115, 7);
    expect(radamRectification(0.999, 6, true).rect).toBeCloseTo(0.0258211, 7);
  });
});
