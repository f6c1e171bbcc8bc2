import { describe, expect, it } from 'vitest';
import { Adagrad, Adam, AdamW, RMSprop, SGD } from '../typed-array.js';

/**
 * Each base optimizer against a plain per-element transcription of PyTorch's update rule, written
 * independently of the TensorOps programs (scalar loops, no shared code).
 */
const STEPS = 6;
const p0 = [0.7, -1.3, 0.05, 2.2, -0.4];
const gradAt = (p: ArrayLike<number>, s: number) => Array.from(p, (v, i) => Math.cos(1.7 * i + s) + 0.3 * v);

function run(make: (p: Float64Array) => { step(g: Record<string, Float64Array>): unknown }) {
  const p = Float64Array.from(p0);
  const opt = make(p);
  for (let s = 0; s < STEPS; s++) opt.step({ p: Float64Array.from(gradAt(p, s)) });
  return Array.from(p);
}

function expectClose(got: number[], want: number[]) {
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 13));
}

describe('base optimizers follow PyTorch update rules', () => {
  it('SGD with momentum, dampening, Nesterov and L2 decay', () => {
    for (const o of [
      { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
      { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01, nesterov: false },
      { lr: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.1, nesterov: true },
    ]) {
      const p = [...p0];
      const buf = p.map(() => 0);
      for (let s = 0; s < STEPS; s++) {
        const g = gradAt(p, s);
        p.forEach((_, i) => {
          let d = g[i] + o.weightDecay * p[i];
          if (o.momentum !== 0) {
            buf[i] = s === 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
            d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
          }
          p[i] -= o.lr * d;
        });
      }
      expectClose(
        run((q) => new SGD({ p: q }, o)),
        p,
      );
    }
  });

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'} with bias corrections and ${decoupled ? 'decoupled' : 'L2'} decay`, () => {
      const o = { lr: 0.02, betas: [0.85, 0.99] as [number, number], eps: 1e-8, weightDecay: 0.1 };
      const p = [...p0];
      const m = p.map(() => 0);
      const v = p.map(() => 0);
      for (let s = 0; s < STEPS; s++) {
        const t = s + 1;
        const g = gradAt(p, s);
        p.forEach((_, i) => {
          if (decoupled) p[i] *= 1 - o.lr * o.weightDecay;
          const gi = decoupled ? g[i] : g[i] + o.weightDecay * p[i];
          m[i] = o.betas[0] * m[i] + (1 - o.betas[0]) * gi;
          v[i] = o.betas[1] * v[i] + (1 - o.betas[1]) * gi * gi;
          const mHat = m[i] / (1 - o.betas[0] ** t);
          const vHat = v[i] / (1 - o.betas[1] ** t);
          p[i] -= (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
        });
      }
      const Cls = decoupled ? AdamW : Adam;
      expectClose(
        run((q) => new Cls({ p: q }, o)),
        p,
      );
    });
  }

  it('RMSprop, plain, centred and with momentum', () => {
    for (const o of [
      { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
      { lr: 0.01, alpha: 0.9, eps: 1e-8, weightDecay: 0.05, momentum: 0.5, centered: true },
    ]) {
      const p = [...p0];
      const sq = p.map(() => 0);
      const ga = p.map(() => 0);
      const buf = p.map(() => 0);
      for (let s = 0; s < STEPS; s++) {
        const g = gradAt(p, s);
        p.forEach((_, i) => {
          const gi = g[i] + o.weightDecay * p[i];
          sq[i] = o.alpha * sq[i] + (1 - o.alpha) * gi * gi;
          let variance = sq[i];
          if (o.centered) {
            ga[i] = o.alpha * ga[i] + (1 - o.alpha) * gi;
            variance -= ga[i] * ga[i];
          }
          const denom = Math.sqrt(variance) + o.eps;
          if (o.momentum > 0) {
            buf[i] = o.momentum * buf[i] + gi / denom;
            p[i] -= o.lr * buf[i];
          } else p[i] -= (o.lr * gi) / denom;
        });
      }
      expectClose(
        run((q) => new RMSprop({ p: q }, o)),
        p,
      );
    }
  });

  it('Adagrad with lr decay and an initial accumulator value', () => {
    const o = { lr: 0.1, lrDecay: 0.05, weightDecay: 0.01, initialAccumulatorValue: 0.3, eps: 1e-10 };
    const p = [...p0];
    const sum = p.map(() => o.initialAccumulatorValue);
    for (let s = 0; s < STEPS; s++) {
      const g = gradAt(p, s);
      const clr = o.lr / (1 + s * o.lrDecay);
      p.forEach((_, i) => {
        const gi = g[i] + o.weightDecay * p[i];
        sum[i] += gi * gi;
        p[i] -= (clr * gi) / (Math.sqrt(sum[i]) + o.eps);
      });
    }
    expectClose(
      run((q) => new Adagrad({ p: q }, o)),
      p,
    );
  });
});
