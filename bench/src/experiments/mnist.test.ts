import { describe, expect, it } from 'vitest';
import { loadMnist, mnistChecks, runMnist } from './mnist.js';

describe('B5 MNIST', () => {
  it('loads the 10,000 digits of the mnist package', () => {
    const { features, labels, rows } = loadMnist();
    expect(rows).toBe(10_000);
    expect(features.length).toBe(10_000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < features.length; i += 97) {
      lo = Math.min(lo, features[i]);
      hi = Math.max(hi, features[i]);
    }
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
  });

  it('runs every method at a tiny size and reports the spec’s claims', async () => {
    const result = await runMnist({
      limit: 600,
      seeds: 1,
      epochs: 1,
      adamLrExponents: [-9, -9],
      sfLrExponents: [-8, -8],
      weightDecays: [0],
    });
    expect(Object.keys(result.methods)).toEqual(['schedule-free', 'cosine', 'linear-decay']);
    for (const m of Object.values(result.methods)) {
      expect(m.curve).toHaveLength(1);
      expect(m.testLoss).toBeLessThan(Math.log(10));
      expect(m.testAccuracy).toBeGreaterThan(0.2);
    }
    expect(mnistChecks(result.methods).map((c) => c.claim)).toHaveLength(2);
  }, 60_000);
});
