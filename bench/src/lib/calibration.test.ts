import { describe, expect, it } from 'vitest';
import { correctness, crossEntropies, fitTemperature, meanCrossEntropy } from './calibration.js';
import { Rng } from './rng.js';

/** Logits of N examples over C classes and labels drawn from softmax(logits / T0). */
function calibratedSample(n: number, classes: number, t0: number, seed: number) {
  const rng = new Rng(seed);
  const logits = Float64Array.from({ length: n * classes }, () => 3 * rng.normal());
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = Array.from({ length: classes }, (_, c) => Math.exp(logits[i * classes + c] / t0));
    const total = p.reduce((a, b) => a + b);
    let u = rng.uniform() * total;
    let c = 0;
    while (c < classes - 1 && u >= p[c]) u -= p[c++];
    labels[i] = c;
  }
  return { logits, labels };
}

describe('temperature scaling', () => {
  it('computes −log softmax(z / T)_y per example', () => {
    const logits = [1, 2, 3, 0, 0, 0];
    const ce = crossEntropies(logits, [2, 1], 3);
    expect(ce[0]).toBeCloseTo(-Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))), 12);
    expect(ce[1]).toBeCloseTo(Math.log(3), 12);
    const hot = crossEntropies(logits, [2, 1], 3, 2);
    expect(hot[0]).toBeCloseTo(crossEntropies([0.5, 1, 1.5], [2], 3)[0], 12);
    // Large logits do not overflow.
    expect(crossEntropies([1000, 0], [0], 2)[0]).toBeCloseTo(0, 12);
    expect(() => crossEntropies([1, 2], [0, 1], 2)).toThrow();
  });

  it('recovers the temperature that generated the labels', () => {
    for (const t0 of [0.5, 1, 2.5]) {
      const { logits, labels } = calibratedSample(20_000, 10, t0, 11);
      expect(fitTemperature(logits, labels, 10) / t0).toBeGreaterThan(0.95);
      expect(fitTemperature(logits, labels, 10) / t0).toBeLessThan(1.05);
    }
  });

  it('returns the minimiser of the mean cross-entropy', () => {
    const { logits, labels } = calibratedSample(3000, 10, 1.7, 12);
    const t = fitTemperature(logits, labels, 10);
    const at = (temp: number) => meanCrossEntropy(logits, labels, 10, temp);
    expect(at(t)).toBeLessThan(at(t * 1.01));
    expect(at(t)).toBeLessThan(at(t / 1.01));
    expect(at(t)).toBeLessThan(at(1));
  });

  it('stops at the edge of its range when the data are separable', () => {
    const logits = [5, 0, 0, 5, 5, 0];
    expect(fitTemperature(logits, [0, 1, 0], 2)).toBeCloseTo(1e-3, 12);
  });

  it('counts a prediction correct at the first maximal logit', () => {
    expect(Array.from(correctness([1, 3, 2, 4, 4, 0], [1, 1], 3))).toEqual([1, 0]);
  });
});
