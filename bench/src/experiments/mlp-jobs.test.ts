import { describe, expect, it } from 'vitest';
import { handle, type MlpJob, mlpPool, releaseDatasets } from './mlp-jobs.js';

describe('MLP jobs on worker threads', () => {
  it('give bit-for-bit the results of the same jobs run in this thread, in job order', async () => {
    const job = (lr: number): MlpJob => ({
      dataset: { name: 'digits', testSize: 360 },
      config: { layers: [64, 16, 10], seeds: 2, batchSize: 64, epochs: 2, l2: 1e-4 },
      spec: { kind: 'schedule-free', lr, betas: [0.9, 0.999], warmupSteps: 3, weightDecay: 0 },
      plan: { epochs: [1, 2], train: true, heldOut: ['test'], perExampleAt: [2] },
    });
    const jobs = [job(0.01), job(0.003), job(0.03)];
    const here = [];
    for (const j of jobs) here.push(await handle(j));
    releaseDatasets();
    const pool = mlpPool(2);
    try {
      const there = await pool.run(jobs);
      expect(there).toEqual(here);
      expect(there[0][1].perExample!.correct[0]).toBeInstanceOf(Uint8Array);
      expect(there[0][0].trainObjective).not.toEqual(there[1][0].trainObjective);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it('reports a failing job as an error', async () => {
    const pool = mlpPool(2);
    try {
      const bad = {
        dataset: { name: 'digits', testSize: 360 },
        config: { layers: [64, 16, 10], seeds: 1, batchSize: 64, epochs: 1, l2: 0 },
        spec: { kind: 'schedule-free', lr: 0.01, betas: [0.9, 0.999], warmupSteps: 0, weightDecay: 0 },
        plan: { epochs: [1], heldOut: ['validation'] },
      } as MlpJob;
      await expect(pool.run([bad])).rejects.toThrow(/no validation split/);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
