import { describe, expect, it } from 'vitest';
import { anytimeStatistics, digitsData, runAnytime } from './anytime.js';
import { disposeData, type TfOptimizerSpec, trainMlp, useWasmBackend } from './tfjs-mlp.js';

describe('B2 selection rules (no training)', () => {
  // Two SF lrs over 4 epochs and 2 seeds: lr A ends lowest, lr B is lower at every earlier epoch.
  const a = [
    [8, 8],
    [6, 6],
    [4, 4],
    [0.9, 0.9],
  ];
  const b = [
    [2, 2],
    [1.5, 1.5],
    [1.2, 1.2],
    [1, 1],
  ];
  const objectives = {
    sf: [a, b],
    // Cosine runs of 2 and 4 epochs, two lrs each, final objectives per seed.
    cosine: [
      [
        [3, 3],
        [2.5, 2.5],
      ],
      [
        [2, 4],
        [1.25, 1.25],
      ],
    ],
  };

  it('picks SF’s lr by the anytime score, not by the last epoch', () => {
    const s = anytimeStatistics(objectives, [0.01, 0.02], [2, 4]);
    expect(s.sfChoice).toBe(1);
    expect(s.cosineChoice).toEqual([1, 1]);
    expect(s.ratios[0]).toBeCloseTo(1.5 / 2.5, 12);
    expect(s.ratios[1]).toBeCloseTo(1 / 1.25, 12);
    // Best at 4 epochs: lr A (0.01); best at 2 (the first checkpoint ≥ 4/4): lr B (0.02).
    expect(s.horizonFactor).toBe(2);
  });

  it('re-makes every selection on a resample of the seeds', () => {
    const skewed = {
      ...objectives,
      cosine: [
        objectives.cosine[0],
        [
          [1, 4],
          [1.25, 1.25],
        ],
      ],
    };
    expect(anytimeStatistics(skewed, [0.01, 0.02], [2, 4], [0, 0]).cosineChoice).toEqual([1, 0]);
    expect(anytimeStatistics(skewed, [0.01, 0.02], [2, 4], [1, 1]).cosineChoice).toEqual([1, 1]);
  });
});

describe('B2 at tiny size (tfjs wasm)', () => {
  it('compares one Schedule-Free run with a cosine run of each length, with intervals', async () => {
    const result = await runAnytime({
      seeds: 2,
      checkpoints: [1, 2],
      cosineLrHalfOctaves: [-10, -10],
      sfLrHalfOctaves: [-12, -10],
      workers: 1,
      bootstrapReplicates: 50,
    });
    expect(result.backend).toBe('wasm');
    expect(result.scheduleFree.curve.map((c) => c.epoch)).toEqual([1, 2]);
    expect(result.scheduleFree.grid.map((g) => g.lr)).toEqual([2 ** -6, 2 ** -5.5, 2 ** -5]);
    expect(result.cosine.map((c) => c.epochs)).toEqual([1, 2]);
    expect(result.comparison).toHaveLength(2);
    for (const c of result.comparison) {
      expect(c.ratio).toBeCloseTo(c.sfObjective / c.cosineObjective, 12);
      expect(c.ratioInterval[0]).toBeLessThanOrEqual(c.ratioInterval[1]);
      // Two epochs of Adam on digits already classify well above chance.
      expect(c.sfTestAccuracy).toBeGreaterThan(0.5);
      expect(c.cosineTestAccuracy).toBeGreaterThan(0.5);
    }
    // The chosen SF lr has the lowest anytime score.
    const scores = result.scheduleFree.grid.map((g) => g.score);
    expect(result.scheduleFree.lr).toBe(result.scheduleFree.grid[scores.indexOf(Math.min(...scores))].lr);
    const claims = result.checks.map((c) => c.claim);
    expect(claims).toEqual([
      'SF objective / best cosine objective at 1 epochs',
      'SF objective / best cosine objective at 2 epochs',
      'SF − cosine test accuracy at 1 epochs (pp)',
      'SF − cosine test accuracy at 2 epochs (pp)',
      'best SF lr at 2 vs at 1 epochs (factor)',
    ]);
    expect(result.checks.map((c) => c.measures)).toEqual([
      'optimization',
      'optimization',
      'generalization',
      'generalization',
      'optimization',
    ]);
  }, 60_000);

  it('trains seeds side by side exactly as it trains them alone', async () => {
    await useWasmBackend();
    const data = digitsData(360);
    const config = { layers: [64, 16, 10], batchSize: 64, epochs: 1, l2: 1e-4 };
    const spec: TfOptimizerSpec = {
      kind: 'schedule-free',
      lr: 0.01,
      betas: [0.9, 0.999],
      warmupSteps: 5,
      weightDecay: 0,
    };
    const plan = { epochs: [1], train: true, heldOut: ['test' as const] };
    const alone = trainMlp(data, { ...config, seeds: 1 }, spec, plan);
    const together = trainMlp(data, { ...config, seeds: 2 }, spec, plan);
    expect(together[0].trainObjective![0]).toBe(alone[0].trainObjective![0]);
    expect(together[0].test!.accuracy[0]).toBe(alone[0].test!.accuracy[0]);
    expect(together[0].trainObjective![1]).not.toBe(alone[0].trainObjective![0]);
    disposeData(data);
  }, 60_000);
});
