import { describe, expect, it } from 'vitest';
import { Rng } from '../lib/rng.js';
import { ladProblem, logisticProblem, type StreamingProblem } from './streaming.js';

/** Monte Carlo estimate of F(w) − F(w*) from the problem's own sampler (common random numbers). */
function monteCarloExcess(p: StreamingProblem, w: Float64Array, n: number): number {
  const rng = new Rng(99);
  const x = new Float64Array(p.dims);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = p.sample(rng, x, 0);
    let m = 0;
    let mStar = 0;
    for (let k = 0; k < p.dims; k++) {
      m += w[k] * x[k];
      mStar += p.wStar[k] * x[k];
    }
    if (p.name === 'logistic') {
      const loss = (t: number) => Math.log1p(Math.exp(-y * t));
      total += loss(m) - loss(mStar);
    } else {
      total += Math.abs(y - m) - Math.abs(y - mStar);
    }
  }
  return total / n;
}

describe.each([logisticProblem(10, 0), ladProblem(10, 0)])('$name problem', (p) => {
  it('has ‖w*‖ = 2 and zero excess loss at w*', () => {
    expect(Math.hypot(...p.wStar)).toBeCloseTo(2, 12);
    expect(p.excess(p.wStar, 0)).toBeCloseTo(0, 12);
  });

  it('computes the population excess loss that sampling estimates', () => {
    const w = p.wStar.map((v, i) => v + 0.4 * Math.cos(i));
    const exact = p.excess(w, 0);
    const sampled = monteCarloExcess(p, w, 100_000);
    expect(exact).toBeGreaterThan(0.01);
    expect(Math.abs(sampled - exact)).toBeLessThan(0.1 * exact);
    // Far from w* the loss grows.
    expect(
      p.excess(
        w.map((v) => 3 * v),
        0,
      ),
    ).toBeGreaterThan(exact);
  });

  it('reads a block at an offset, and reports a non-finite iterate as infinitely bad', () => {
    const padded = new Float64Array(3 * p.dims);
    padded.set(p.wStar, p.dims);
    expect(p.excess(padded, p.dims)).toBeCloseTo(0, 12);
    padded[p.dims] = Number.NaN;
    expect(p.excess(padded, p.dims)).toBe(Number.POSITIVE_INFINITY);
  });

  it('its gradients have mean zero at w* and point uphill elsewhere', () => {
    const rng = new Rng(5);
    const x = new Float64Array(p.dims);
    const g = new Float64Array(p.dims);
    const atStar = new Float64Array(p.dims);
    const away = p.wStar.map((v) => v + 0.5);
    let along = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const y = p.sample(rng, x, 0);
      p.gradient(p.wStar, x, y, 0, g);
      for (let k = 0; k < p.dims; k++) atStar[k] += g[k] / n;
      p.gradient(away, x, y, 0, g);
      for (let k = 0; k < p.dims; k++) along += (g[k] * 0.5) / n;
    }
    expect(Math.hypot(...atStar)).toBeLessThan(0.05);
    expect(along).toBeGreaterThan(0.1);
  });
});
