import { describe, expect, it } from 'vitest';
import {
  absoluteInterval,
  bootstrap,
  pairedMeanDifference,
  pairedMeanRatio,
  percentileInterval,
  quantileSorted,
  verdictOf,
} from './intervals.js';
import { Rng } from './rng.js';

const normals = (n: number, seed: number, mu = 0, sd = 1) => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => mu + sd * rng.normal());
};
const meanOf = (v: ArrayLike<number>, idx: Int32Array) => {
  let s = 0;
  for (const i of idx) s += v[i];
  return s / idx.length;
};

describe('quantiles and percentile intervals', () => {
  it('interpolates between order statistics like R type 7', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });

  it('takes the central 95 % of a sample, in any order', () => {
    const values = new Rng(3).shuffle(Float64Array.from({ length: 1001 }, (_, i) => i + 1));
    const [lo, hi] = percentileInterval(values);
    expect(lo).toBeCloseTo(26, 9);
    expect(hi).toBeCloseTo(976, 9);
    const [q1, q3] = percentileInterval(values, 0.5);
    expect(q1).toBeCloseTo(251, 9);
    expect(q3).toBeCloseTo(751, 9);
  });

  it('counts a diverged (NaN) resample as +∞ instead of dropping it', () => {
    const values = [...Array.from({ length: 90 }, (_, i) => i), ...Array(10).fill(Number.NaN)];
    expect(percentileInterval(values)[1]).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('bootstrap', () => {
  it('gives the textbook interval of a mean: ± 1.96 σ/√n', () => {
    const x = normals(400, 1, 5, 2);
    const { estimates, intervals, standardErrors } = bootstrap(x.length, (idx) => [meanOf(x, idx)], {
      replicates: 4000,
    });
    const m = x.reduce((a, b) => a + b) / x.length;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - m) ** 2, 0) / (x.length - 1));
    expect(estimates[0]).toBeCloseTo(m, 12);
    expect(standardErrors[0]).toBeGreaterThan(0.9 * (sd / 20));
    expect(standardErrors[0]).toBeLessThan(1.1 * (sd / 20));
    const half = (intervals[0][1] - intervals[0][0]) / 2;
    expect(half / ((1.96 * sd) / 20)).toBeGreaterThan(0.9);
    expect(half / ((1.96 * sd) / 20)).toBeLessThan(1.1);
  });

  it('covers the true mean in about 95 % of repeated experiments', () => {
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const x = normals(100, 1000 + t, 3, 1);
      const [lo, hi] = bootstrap(x.length, (idx) => [meanOf(x, idx)], { replicates: 500, seed: t })
        .intervals[0];
      if (lo <= 3 && 3 <= hi) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.89);
    expect(covered / trials).toBeLessThan(0.99);
  });

  it('resamples every component of a statistic with the same units (pairing), reproducibly', () => {
    const x = normals(50, 2);
    const run = (seed: number) =>
      bootstrap(x.length, (idx) => [meanOf(x, idx), 2 * meanOf(x, idx) + 1], { replicates: 300, seed });
    const a = run(7);
    expect(a.intervals[1][0]).toBeCloseTo(2 * a.intervals[0][0] + 1, 12);
    expect(a.intervals[1][1]).toBeCloseTo(2 * a.intervals[0][1] + 1, 12);
    expect(run(7).intervals).toEqual(a.intervals);
    expect(run(8).intervals).not.toEqual(a.intervals);
  });
});

describe('paired bootstraps over examples', () => {
  it('a paired difference sees a small shift that per-example noise would hide', () => {
    const base = normals(2000, 4, 0, 1);
    const rng = new Rng(5);
    const shifted = base.map((v) => v + 0.01 + 0.001 * rng.normal());
    const { value, interval } = pairedMeanDifference(shifted, base, { replicates: 1000 });
    expect(value).toBeCloseTo(0.01, 3);
    expect(interval[0]).toBeGreaterThan(0.0095);
    expect(interval[1]).toBeLessThan(0.0105);
    expect(() => pairedMeanDifference([1], [1, 2])).toThrow();
  });

  it('the ratio of means of a = 2b is exactly 2 in every resample', () => {
    const b = normals(300, 6, 5, 1);
    const a = b.map((v) => 2 * v);
    const { value, interval } = pairedMeanRatio(a, b, { replicates: 200 });
    expect(value).toBeCloseTo(2, 12);
    expect(interval[0]).toBeCloseTo(2, 12);
    expect(interval[1]).toBeCloseTo(2, 12);
  });
});

describe('verdicts', () => {
  it('pass / fail only when the whole interval is on one side of the threshold', () => {
    expect(verdictOf([0.5, 0.58], { op: '≤', bound: 0.6 })).toBe('pass');
    expect(verdictOf([0.62, 0.7], { op: '≤', bound: 0.6 })).toBe('fail');
    expect(verdictOf([0.55, 0.65], { op: '≤', bound: 0.6 })).toBe('inconclusive');
    expect(verdictOf([0.81, 1.2], { op: '≥', bound: 0.8 })).toBe('pass');
    expect(verdictOf([-0.2, 0.4], { op: '>', bound: 0 })).toBe('inconclusive');
    expect(verdictOf([0, 0.4], { op: '>', bound: 0 })).toBe('inconclusive');
    expect(verdictOf([-3, -1.5], { op: '<', bound: -1 })).toBe('pass');
    expect(verdictOf([1, 2])).toBe('reported');
  });

  it('folds an interval of a signed change into one of its size', () => {
    expect(absoluteInterval([-0.1, 0.3])).toEqual([0, 0.3]);
    expect(absoluteInterval([-0.4, 0.1])).toEqual([0, 0.4]);
    expect(absoluteInterval([0.1, 0.2])).toEqual([0.1, 0.2]);
    expect(absoluteInterval([-0.3, -0.2])).toEqual([0.2, 0.3]);
  });
});
