import { describe, expect, it } from 'vitest';
import {
  coarseGridRegret,
  ROBUSTNESS_METHODS,
  robustnessChecks,
  runRobustness,
  slopeChangeChecks,
} from './robustness.js';

describe('coarseGridRegret', () => {
  it('is the worst offset of a coarse grid’s best over the fine grid’s best', () => {
    // Fine grid k = 0..5 with a sharp minimum at k = 2.
    const medians = new Map([0, 1, 2, 3, 4, 5].map((k) => [k, [8, 3, 1, 2, 6, 9][k]]));
    const ks = [0, 1, 2, 3, 4, 5];
    expect(coarseGridRegret(medians, ks, 1)).toBe(1);
    // Step 2: offsets {0, 2, 4} (best 1) and {1, 3, 5} (best 2) → worst 2.
    expect(coarseGridRegret(medians, ks, 2)).toBe(2);
    // Step 3: {0, 3} → 2, {1, 4} → 3, {2, 5} → 1.
    expect(coarseGridRegret(medians, ks, 3)).toBe(3);
  });
});

describe('B4 at tiny size', () => {
  const result = runRobustness({
    problems: ['logistic', 'lad'],
    methods: ['fixed', 'cosine', 'schedule-free'],
    seeds: 2,
    steps: 150,
    gridHalfOctaves: [-8, 2],
    rhoExponents: [-1, 0, 1, 2, 4],
    slopeRange: [2, 16],
  });

  it('writes the documented layout', () => {
    for (const problem of ['logistic', 'lad'] as const) {
      const methods = result.problems[problem]!.methods;
      expect(Object.keys(methods)).toEqual(['fixed', 'cosine', 'schedule-free']);
      for (const m of Object.values(methods)) {
        expect(Object.keys(m.ratios).sort()).toEqual(['0.5', '1', '16', '2', '4']);
        expect(m.ratios['1']).toBe(1);
        expect(Number.isFinite(m.slope)).toBe(true);
        expect(m.bestLr).toBeGreaterThan(0);
        // ρ·η* may leave the tuning grid: those lrs are run too and appear in the curve.
        expect(m.curve.some((c) => Math.abs(c.lr - 16 * m.bestLr) < 1e-12)).toBe(true);
        for (const c of m.curve) expect(c.q25).toBeLessThanOrEqual(c.q75);
      }
    }
    expect(result.checks.length).toBeGreaterThan(0);
  });

  it('picks the best lr as the argmin of the median curve', () => {
    const m = result.problems.logistic!.methods.fixed!;
    const onGrid = m.curve.filter((c) => c.lr <= 2 ** 1 + 1e-12 && c.lr >= 2 ** -4 - 1e-12);
    const best = onGrid.reduce((a, b) => (b.median < a.median ? b : a));
    expect(m.bestLr).toBe(best.lr);
  });

  it('checks only the claims whose methods ran', () => {
    const claims = robustnessChecks(result.problems).map((c) => c.claim);
    expect(claims).toContain('logistic: fixed slope');
    expect(claims).toContain('logistic: schedule-free R(8)');
    expect(claims.some((c) => c.includes('inverse-sqrt'))).toBe(false);
    expect(ROBUSTNESS_METHODS).toContain('polynomial-2');
  });
});

describe('slopeChangeChecks', () => {
  it('compares the schedules’ slopes across horizons', () => {
    const make = (steps: number, slope: number) =>
      ({
        config: { steps },
        problems: { logistic: { methods: { fixed: { slope }, polyak: { slope: 2 * slope } } } },
      }) as unknown as Parameters<typeof slopeChangeChecks>[0];
    const checks = slopeChangeChecks(make(16000, 1.1), make(4000, 1));
    expect(checks).toHaveLength(1);
    expect(checks[0].claim).toBe('logistic: fixed slope change, T = 4000 → 16000');
    expect(checks[0].value).toBeCloseTo(0.1, 12);
    expect(checks[0].pass).toBe(true);
  });
});
