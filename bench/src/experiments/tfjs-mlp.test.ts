import { describe, expect, it } from 'vitest';
import { digitsData } from './mlp-jobs.js';
import { disposeData, type EvaluationPlan, type MlpConfig, trainMlp, useWasmBackend } from './tfjs-mlp.js';

describe('ScheduleFree+ in the MLP runs', () => {
  const config = (seeds: number): MlpConfig => ({
    layers: [64, 16, 10],
    seeds,
    batchSize: 64,
    epochs: 3,
    l2: 0,
  });
  const spec = { kind: 'schedule-free-plus', lr: 0.25, weightDecay: 10 } as const;

  it('steps each seed with its own loss: seed 0 of a 2-seed run is the 1-seed run, bit for bit', async () => {
    await useWasmBackend();
    const data = digitsData(360);
    try {
      const plan: EvaluationPlan = { epochs: [1, 3], train: true, heldOut: ['test'] };
      const one = trainMlp(data, config(1), spec, plan);
      const two = trainMlp(data, config(2), spec, plan);
      // The Polyak step size divides the loss by a sum over the parameters: with the seeds' summed
      // loss, or one optimizer over both seeds, seed 0 would take other steps.
      expect(two.map((r) => r.trainObjective![0])).toEqual(one.map((r) => r.trainObjective![0]));
      expect(two.map((r) => r.test!.loss[0])).toEqual(one.map((r) => r.test!.loss[0]));
      expect(two[1].trainObjective![1]).not.toBe(two[1].trainObjective![0]);
      // It trains: from ln 10 ≈ 2.3 at the start to well below it.
      expect(one[1].trainObjective![0]).toBeLessThan(1);
      expect(one[1].trainObjective![0]).toBeLessThan(one[0].trainObjective![0]);
    } finally {
      disposeData(data);
    }
  }, 60_000);

  it('evaluates at x and puts y back exactly: evaluating every epoch does not change the run', async () => {
    await useWasmBackend();
    const data = digitsData(360);
    try {
      const every = trainMlp(data, config(1), spec, { epochs: [1, 2, 3], heldOut: ['test'] });
      const last = trainMlp(data, config(1), spec, { epochs: [3], heldOut: ['test'] });
      expect(last[0]).toEqual(every[2]);
    } finally {
      disposeData(data);
    }
  }, 60_000);

  it('scores a diverged seed NaN, like a diverged AdamW run, instead of failing the run', async () => {
    await useWasmBackend();
    const data = digitsData(360);
    try {
      const plan: EvaluationPlan = { epochs: [1, 3], train: true, heldOut: ['test'] };
      const records = trainMlp(data, config(1), { kind: 'schedule-free-plus', lr: 64, weightDecay: 0 }, plan);
      expect(records[1].trainObjective![0]).toBeNaN();
      expect(records[1].test!.loss[0]).toBeNaN();
    } finally {
      disposeData(data);
    }
  }, 60_000);
});
