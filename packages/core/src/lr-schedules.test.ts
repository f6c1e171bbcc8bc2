import { describe, expect, it } from 'vitest';
import { ScheduleFreeError } from './errors.js';
import {
  constantLr,
  cosineLr,
  inverseSqrtLr,
  LR_SCHEDULE_KINDS,
  type LrScheduleSpec,
  linearDecayLr,
  linearWarmupLr,
  lrSchedule,
  multiStepLr,
  polynomialDecayLr,
  stepLr,
  withWarmup,
} from './lr-schedules.js';
import { warmupFactor } from './schedule.js';
import { AdamWScheduleFree, SGDScheduleFree } from './typed-array/classes.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('basic shapes', () => {
  it('constant', () => {
    const s = constantLr(0.3);
    expect(range(5).map(s)).toEqual([0.3, 0.3, 0.3, 0.3, 0.3]);
  });

  it('cosine starts at lr, halves at T/2, ends at minLr and stays there', () => {
    const s = cosineLr({ lr: 2, totalSteps: 100, minLr: 0.5 });
    expect(s(0)).toBe(2);
    expect(s(50)).toBeCloseTo(1.25, 14);
    expect(s(100)).toBeCloseTo(0.5, 14);
    expect(s(1000)).toBeCloseTo(0.5, 14);
    const values = range(101).map(s);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
  });

  it('linear and polynomial decay follow lr·(1 − t/T)^p', () => {
    const lin = linearDecayLr({ lr: 1, totalSteps: 10 });
    expect(range(11).map(lin)).toEqual(range(11).map((t) => 1 - t / 10));
    const quad = polynomialDecayLr({ lr: 4, totalSteps: 8, power: 2 });
    expect(quad(4)).toBeCloseTo(1, 14);
    expect(quad(6)).toBeCloseTo(0.25, 14);
    expect(quad(20)).toBe(0);
    const toEnd = polynomialDecayLr({ lr: 1, totalSteps: 4, power: 3, endLr: 0.2 });
    expect(toEnd(4)).toBeCloseTo(0.2, 14);
    expect(toEnd(2)).toBeCloseTo(0.2 + 0.8 / 8, 14);
  });

  it('inverse square root is lr/√(t+1) by default and respects the timescale', () => {
    const s = inverseSqrtLr({ lr: 3 });
    expect(s(0)).toBe(3);
    expect(s(3)).toBeCloseTo(1.5, 14);
    const slow = inverseSqrtLr({ lr: 1, timescale: 100 });
    expect(slow(300)).toBeCloseTo(0.5, 14);
  });

  it('step and multistep decay at their boundaries, like PyTorch StepLR / MultiStepLR', () => {
    const s = stepLr({ lr: 1, stepSize: 3, gamma: 0.5 });
    expect(range(7).map(s)).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
    const m = multiStepLr({ lr: 1, milestones: [2, 5], gamma: 0.1 });
    expect(
      range(7)
        .map(m)
        .map((v) => +v.toPrecision(12)),
    ).toEqual([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01]);
  });
});

describe('warmup', () => {
  it('ramps as (t+1)/W times the inner schedule start, then hands over to the inner schedule', () => {
    const inner = cosineLr({ lr: 0.8, totalSteps: 10 });
    const s = withWarmup(inner, 4);
    [0.2, 0.4, 0.6, 0.8].forEach((v, t) => expect(s(t)).toBeCloseTo(v, 15));
    for (const t of [4, 7, 14, 20]) expect(s(t)).toBe(inner(t - 4));
  });

  it('uses the same ramp as the optimizers’ warmupSteps option', () => {
    const s = linearWarmupLr({ lr: 1, warmupSteps: 7 });
    for (const t of range(12)) expect(s(t)).toBeCloseTo(warmupFactor(t, 7), 15);
  });

  it('lrSchedule counts warmup inside totalSteps, so every decay ends at step T', () => {
    for (const kind of ['cosine', 'linear', 'polynomial'] as const) {
      const spec = { kind, lr: 1, totalSteps: 100, warmupSteps: 10, power: 2 } as LrScheduleSpec;
      const s = lrSchedule(spec);
      expect(s(9)).toBe(1);
      expect(s(10)).toBe(1);
      expect(s(100)).toBeCloseTo(0, 14);
      expect(s(55)).toBeGreaterThan(0);
    }
  });

  it('a zero-length warmup is the inner schedule itself', () => {
    const inner = constantLr(1);
    expect(withWarmup(inner, 0)).toBe(inner);
  });
});

describe('lrSchedule', () => {
  it('builds every kind it lists', () => {
    const specs: Record<(typeof LR_SCHEDULE_KINDS)[number], LrScheduleSpec> = {
      constant: { kind: 'constant', lr: 1 },
      cosine: { kind: 'cosine', lr: 1, totalSteps: 10 },
      linear: { kind: 'linear', lr: 1, totalSteps: 10 },
      polynomial: { kind: 'polynomial', lr: 1, totalSteps: 10, power: 2 },
      'inverse-sqrt': { kind: 'inverse-sqrt', lr: 1 },
      step: { kind: 'step', lr: 1, stepSize: 5 },
      multistep: { kind: 'multistep', lr: 1, milestones: [3] },
    };
    for (const kind of LR_SCHEDULE_KINDS) {
      const s = lrSchedule(specs[kind]);
      expect(s(0)).toBe(1);
      expect(s(9)).toBeLessThanOrEqual(1);
    }
    expect(lrSchedule(specs.linear)(5)).toBeCloseTo(0.5, 14);
  });

  it('rejects bad descriptions with INVALID_OPTION', () => {
    const bad: unknown[] = [
      { kind: 'exponential', lr: 1 },
      { kind: 'cosine', lr: -1, totalSteps: 10 },
      { kind: 'cosine', lr: 1, totalSteps: 0 },
      { kind: 'linear', lr: 1, totalSteps: 10, warmupSteps: 10 },
      { kind: 'linear', lr: 1, totalSteps: 10, warmupSteps: 1.5 },
      { kind: 'polynomial', lr: 1, totalSteps: 10, power: 0 },
      { kind: 'multistep', lr: 1, milestones: [5, 2] },
      { kind: 'step', lr: 1, stepSize: 0 },
    ];
    for (const spec of bad) {
      expect(() => lrSchedule(spec as LrScheduleSpec)).toThrowError(ScheduleFreeError);
    }
    expect(() => constantLr(1)(-1)).toThrow(/step must be a finite number ≥ 0/);
    expect(() => cosineLr({ lr: 1, totalSteps: 5 })(Number.NaN)).toThrow(ScheduleFreeError);
  });
});

describe('as an external schedule of the optimizers', () => {
  const grads = (t: number, n: number) => {
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = Math.sin(1.3 * t + 0.7 * i) + 0.1 * i;
    return g;
  };

  it('setting lr from linearWarmupLr reproduces the built-in warmupSteps exactly', () => {
    const n = 6;
    const a = { w: new Float64Array(n).fill(0.5) };
    const b = { w: new Float64Array(n).fill(0.5) };
    const builtIn = new AdamWScheduleFree(a, { lr: 0.01, warmupSteps: 5 }).train();
    const external = new AdamWScheduleFree(b, { lr: 0.01 }).train();
    const schedule = linearWarmupLr({ lr: 0.01, warmupSteps: 5 });
    for (let t = 0; t < 12; t++) {
      builtIn.step({ w: grads(t, n) });
      external.paramGroups[0].lr = schedule(t);
      external.step({ w: grads(t, n) });
    }
    builtIn.eval();
    external.eval();
    for (let i = 0; i < n; i++) expect(b.w[i]).toBeCloseTo(a.w[i], 14);
    expect(external.groupState().weightSum).toBeCloseTo(builtIn.groupState().weightSum, 14);
  });

  it('a decaying external schedule changes the trajectory (the lr really is read every step)', () => {
    const n = 3;
    const a = { w: new Float64Array(n) };
    const b = { w: new Float64Array(n) };
    const fixed = new SGDScheduleFree(a, { lr: 0.1 }).train();
    const decayed = new SGDScheduleFree(b, { lr: 0.1 }).train();
    const schedule = cosineLr({ lr: 0.1, totalSteps: 10 });
    for (let t = 0; t < 10; t++) {
      fixed.step({ w: grads(t, n) });
      decayed.paramGroups[0].lr = schedule(t);
      decayed.step({ w: grads(t, n) });
    }
    expect(decayed.groupState().scheduledLr).toBeCloseTo(schedule(9), 15);
    expect(Math.abs(a.w[0] - b.w[0])).toBeGreaterThan(1e-6);
  });
});
