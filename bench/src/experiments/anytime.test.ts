import { describe, expect, it } from 'vitest';
import { anytimeChecks, digitsData, runAnytime } from './anytime.js';
import { type TfOptimizerSpec, trainMlp, useWasmBackend } from './tfjs-mlp.js';

describe('B2 at tiny size (tfjs wasm)', () => {
  it('compares one Schedule-Free run with a cosine run of each length', async () => {
    const result = await runAnytime({
      seeds: 1,
      checkpoints: [1, 2],
      cosineLrExponents: [-5, -5],
      sfLrExponents: [-6, -5],
    });
    expect(result.backend).toBe('wasm');
    expect(result.scheduleFree.curve.map((c) => c.epoch)).toEqual([1, 2]);
    expect(result.cosine.map((c) => c.epochs)).toEqual([1, 2]);
    expect(result.comparison).toHaveLength(2);
    for (const c of result.comparison) {
      expect(c.ratio).toBeCloseTo(c.sfObjective / c.cosineObjective, 12);
      // Two epochs of Adam on digits already classify well above chance.
      expect(c.sfTestAccuracy).toBeGreaterThan(0.5);
      expect(c.cosineTestAccuracy).toBeGreaterThan(0.5);
    }
    // The chosen SF lr is the one with the lower objective at the last checkpoint.
    const last = result.scheduleFree.grid.map((g) => g.trainObjective['2']);
    expect(result.scheduleFree.lr).toBe(result.scheduleFree.grid[last[0] <= last[1] ? 0 : 1].lr);
    expect(anytimeChecks(result).length).toBeGreaterThanOrEqual(3);
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
    const alone = trainMlp(data, { ...config, seeds: 1 }, spec, [1]);
    const together = trainMlp(data, { ...config, seeds: 2 }, spec, [1]);
    expect(together[0].trainObjective[0]).toBe(alone[0].trainObjective[0]);
    expect(together[0].testAccuracy[0]).toBe(alone[0].testAccuracy[0]);
    expect(together[0].trainObjective[1]).not.toBe(alone[0].trainObjective[0]);
    for (const t of Object.values(data)) if (typeof t === 'object') t.dispose();
  }, 60_000);
});
