import { linearDecayLr, SGDScheduleFreeReference } from '@schedulefree/core';
import { SGD } from '@schedulefree/wrapper';
import { describe, expect, it } from 'vitest';
import {
  adamWith,
  averagedSgd,
  type Method,
  scheduleFreeAdam,
  scheduleFreeSgd,
  sgdWith,
  shapes,
} from './methods.js';

const d = 5;
/** A deterministic stochastic-looking gradient oracle: a quadratic plus step-dependent noise. */
function oracle(w: ArrayLike<number>, t: number, offset = 0, g = new Float64Array(d)): Float64Array {
  for (let i = 0; i < d; i++) {
    const curvature = 0.2 + 0.3 * i;
    g[offset + i] = curvature * (w[offset + i] - (i - 2)) + 0.5 * Math.sin(7.1 * t + 1.3 * i);
  }
  return g;
}

describe('the paper’s §5 identity', () => {
  it('Schedule-Free SGD with β_t = t/T and uniform averaging is exactly linear-decay SGD', () => {
    const T = 60;
    const lr = 0.3;
    const y = new Float64Array(d).fill(1);
    const w = new Float64Array(d).fill(1);
    const sf = new SGDScheduleFreeReference({ p: y }, { lr, momentum: 0 }).train();
    const sgd = new SGD({ p: w }, { lr });
    const schedule = linearDecayLr({ lr, totalSteps: T });
    let worst = 0;
    for (let t = 0; t < T; t++) {
      // This step produces y_{t+1}, the interpolation with β_{t+1} = (t+1)/T.
      sf.paramGroups[0].momentum = (t + 1) / T;
      sf.step({ p: oracle(y, t) });
      sgd.paramGroups[0].lr = schedule(t);
      sgd.step({ p: oracle(w, t) });
      for (let i = 0; i < d; i++) worst = Math.max(worst, Math.abs(y[i] - w[i]));
    }
    expect(worst).toBeLessThan(1e-12);
    // β_T = 1, so y_T = x_T.
    const x = sf.evalParams().p;
    for (let i = 0; i < d; i++) expect(x[i]).toBeCloseTo(y[i], 13);
    // And the identity is not vacuous: plain SF (β = 0.9) takes another path.
    expect(Math.abs(w[0] - 1)).toBeGreaterThan(0.1);
  });

  it('β = 0 is SGD plus a uniform running average of its iterates (Polyak–Ruppert)', () => {
    const T = 30;
    const params = { p: new Float64Array(d) };
    const run = averagedSgd('polyak', 0).create(params, 0.1, T);
    const w = new Float64Array(d);
    const sum = new Float64Array(d);
    for (let t = 0; t < T; t++) {
      run.step({ p: oracle(params.p, t) });
      const g = oracle(w, t);
      for (let i = 0; i < d; i++) {
        w[i] -= 0.1 * g[i];
        sum[i] += w[i];
      }
    }
    const x = run.evalPoint().p;
    for (let i = 0; i < d; i++) expect(x[i]).toBeCloseTo(sum[i] / T, 12);
  });
});

describe('batched runs', () => {
  const methods: Method[] = [
    sgdWith('cosine', shapes.cosine),
    scheduleFreeSgd(),
    adamWith('linear', shapes.linear),
    scheduleFreeAdam('sf-adam', { warmupFraction: 0.1 }),
  ];
  it.each(methods.map((m) => [m.name, m] as const))(
    '%s over concatenated seeds equals separate runs',
    (_, method) => {
      const seeds = 3;
      const T = 25;
      const together = { p: new Float64Array(seeds * d) };
      const batched = method.create(together, 0.05, T);
      const alone = Array.from({ length: seeds }, () => ({ p: new Float64Array(d) }));
      const runs = alone.map((params) => method.create(params, 0.05, T));
      const g = new Float64Array(seeds * d);
      for (let t = 0; t < T; t++) {
        // Each seed sees its own oracle (shifted in time), in both layouts.
        for (let s = 0; s < seeds; s++) {
          const own = oracle(together.p.subarray(s * d, (s + 1) * d), t + 10 * s);
          g.set(own, s * d);
          runs[s].step({ p: oracle(alone[s].p, t + 10 * s) });
        }
        batched.step({ p: g });
      }
      const x = batched.evalPoint().p;
      for (let s = 0; s < seeds; s++) {
        const xs = runs[s].evalPoint().p;
        for (let i = 0; i < d; i++) expect(x[s * d + i]).toBe(xs[i]);
      }
    },
  );
});
