import { describe, expect, it } from 'vitest';
import { loadMnist, type MnistPerExample, type MnistResult, mnistChecks, runMnist } from './mnist.js';
import { splitRows } from './tfjs-mlp.js';

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

  it('splits the digit-ordered rows at random: disjoint, complete, every class in proportion', () => {
    const { labels, rows } = loadMnist();
    const split = splitRows(rows, 2000, 0, 2000);
    const all = [...split.train, ...split.validation, ...split.test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: rows }, (_, i) => i));
    expect([split.train.length, split.validation.length, split.test.length]).toEqual([6000, 2000, 2000]);
    const share = (list: Int32Array, digit: number) =>
      list.filter((r) => labels[r] === digit).length / list.length;
    for (let digit = 0; digit < 10; digit++) {
      const overall = share(
        Int32Array.from({ length: rows }, (_, i) => i),
        digit,
      );
      // A contiguous split of digit-ordered rows would put whole classes in one split.
      expect(Math.abs(share(split.validation, digit) - overall)).toBeLessThan(0.025);
      expect(Math.abs(share(split.test, digit) - overall)).toBeLessThan(0.025);
    }
    // The validation rows are drawn from what is not test: a different seed gives other rows.
    expect(splitRows(rows, 2000, 1, 2000).validation).not.toEqual(split.validation);
    expect(() => splitRows(10, 5, 0, 5)).toThrow(/no training rows/);
  });

  it('compares SF with the baseline selected on validation, with paired bootstrap intervals', () => {
    const method = (validationLoss: number) =>
      ({ final: { validationLoss } }) as unknown as NonNullable<MnistResult['methods']['cosine']>;
    const n = 400;
    const example = (loss: number, correctEvery: number): MnistPerExample => ({
      loss: Float64Array.from({ length: n }, (_, i) => loss * (1 + (i % 7) / 10)),
      calibratedLoss: Float64Array.from({ length: n }, (_, i) => 0.9 * loss * (1 + (i % 7) / 10)),
      correct: Float64Array.from({ length: n }, (_, i) => (i % correctEvery === 0 ? 0 : 1)),
    });
    // Linear decay has the lower validation loss, so it is the comparison even though cosine
    // would look better on test: test rows never decide.
    const { bestBaseline, checks } = mnistChecks(
      { 'schedule-free': method(0.1), cosine: method(0.3), 'linear-decay': method(0.2) },
      { 'schedule-free': example(0.1, 10), cosine: example(0.05, 1000), 'linear-decay': example(0.2, 5) },
      500,
    );
    expect(bestBaseline).toBe('linear-decay');
    const ratio = checks[0];
    expect(ratio.claim).toBe("SF test cross-entropy / linear-decay's");
    expect(ratio.value).toBeCloseTo(0.5, 12);
    expect(ratio.interval).toEqual([expect.closeTo(0.5, 12), expect.closeTo(0.5, 12)]);
    expect(ratio.verdict).toBe('pass');
    const gap = checks[1];
    expect(gap.value).toBeCloseTo(10, 12); // 90 % vs 80 % correct
    expect(gap.interval[0]).toBeGreaterThan(5);
    expect(gap.interval[1]).toBeLessThan(15);
    expect(gap.verdict).toBe('pass');
    expect(checks[2].verdict).toBe('reported');
    expect(checks[3].claim).toBe('SF − cosine test accuracy (pp)');
  });

  it('tunes lr × weight decay on validation at a tiny size and re-runs the selected settings exactly', async () => {
    const result = await runMnist({
      limit: 600,
      seeds: 1,
      epochs: 1,
      sfLrExponents: [-7, -7],
      adamLrExponents: [-8, -8],
      weightDecays: [0, 0.1],
      workers: 1,
      bootstrapReplicates: 100,
    });
    expect(Object.keys(result.methods)).toEqual(['schedule-free', 'cosine', 'linear-decay']);
    expect(result.split).toEqual({ train: 360, validation: 120, test: 120 });
    for (const m of Object.values(result.methods)) {
      expect(m.curve).toHaveLength(1);
      expect(m.reproduced).toBe(true);
      // The selected point is the grid's lowest validation loss.
      expect(m.final.validationLoss).toBe(Math.min(...m.grid.map((g) => g.validationLoss)));
      // The coarse point plus its refinement neighbours, at least.
      expect(m.grid.length).toBeGreaterThanOrEqual(4);
      expect(m.final.testLoss).toBeLessThan(Math.log(10));
      expect(m.final.temperature).toBeGreaterThan(0);
    }
    expect(result.checks.map((c) => c.verdict).slice(0, 2)).not.toContain('reported');
    expect(result.search.stages[0]).toMatchObject({ stage: 'coarse grid', jobs: 6 });
  }, 120_000);
});
