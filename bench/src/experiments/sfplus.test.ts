import { describe, expect, it } from 'vitest';
import { roundDeep } from '../lib/stats.js';
import {
  DEFAULT_MNIST,
  type MnistOptions,
  optimizerSpec,
  runMnist,
  SF_PLUS,
  scheduleFreePlusChecks,
  searchSpace,
} from './mnist.js';
import { fixedSettingsFrom, runScheduleFreePlus } from './sfplus.js';

describe('ScheduleFree+ on B5', () => {
  it("searches its own scales: lr around the reference's 1, AdamC weight decays of O(10–50)", () => {
    const { lrExponents, lrLimits, weightDecays } = searchSpace(DEFAULT_MNIST, SF_PLUS);
    expect(lrExponents[0]).toBeLessThan(0);
    expect(lrExponents[1]).toBeGreaterThan(0);
    expect(lrLimits[0]).toBeLessThanOrEqual(lrExponents[0]);
    expect(lrLimits[1]).toBeGreaterThanOrEqual(lrExponents[1]);
    expect(weightDecays).toContain(0);
    expect(weightDecays.filter((w) => w >= 10 && w <= 50).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...weightDecays)).toBeGreaterThan(50);
    // As many settings as every B5 method gets.
    expect(weightDecays).toHaveLength(DEFAULT_MNIST.weightDecays.length);
    expect(searchSpace(DEFAULT_MNIST, 'cosine').weightDecays).toEqual(DEFAULT_MNIST.weightDecays);
    expect(optimizerSpec(SF_PLUS, 1, 30, 100, 5)).toEqual({
      kind: 'schedule-free-plus',
      lr: 1,
      weightDecay: 30,
    });
  });

  it('reports SF+ against SF and cosine with targets, against linear decay without', () => {
    const n = 300;
    const example = (loss: number, wrongEvery: number) => ({
      loss: Float64Array.from({ length: n }, (_, i) => loss * (1 + (i % 5) / 10)),
      calibratedLoss: Float64Array.from({ length: n }, (_, i) => loss * (1 + (i % 5) / 10)),
      correct: Float64Array.from({ length: n }, (_, i) => (i % wrongEvery === 0 ? 0 : 1)),
    });
    const checks = scheduleFreePlusChecks(
      {
        [SF_PLUS]: example(0.2, 10),
        'schedule-free': example(0.1, 10),
        cosine: example(0.4, 10),
        'linear-decay': example(0.2, 10),
      },
      200,
    );
    expect(checks.map((c) => [c.claim, c.verdict])).toEqual([
      ["SF+ test cross-entropy / schedule-free's", 'fail'],
      ['SF+ − schedule-free test accuracy (pp)', 'pass'],
      ['SF+ / schedule-free test cross-entropy after temperature scaling', 'reported'],
      ["SF+ test cross-entropy / cosine's", 'pass'],
      ['SF+ − cosine test accuracy (pp)', 'pass'],
      ['SF+ / cosine test cross-entropy after temperature scaling', 'reported'],
      ["SF+ test cross-entropy / linear-decay's", 'reported'],
      ['SF+ − linear-decay test accuracy (pp)', 'reported'],
      ['SF+ / linear-decay test cross-entropy after temperature scaling', 'reported'],
    ]);
    expect(checks[0].value).toBeCloseTo(2, 12);
    expect(scheduleFreePlusChecks({ cosine: example(0.4, 10) })).toEqual([]);
  });

  const tiny: Partial<MnistOptions> = {
    limit: 600,
    seeds: 1,
    epochs: 1,
    sfLrExponents: [-7, -7],
    adamLrExponents: [-8, -8],
    weightDecays: [0, 0.1],
    sfPlusLrExponents: [0, 0],
    sfPlusWeightDecays: [0, 30],
    workers: 1,
    bootstrapReplicates: 100,
  };

  it('reuses an earlier B5 search only for the same runs, and re-runs its selected setting exactly', async () => {
    // As read back from its JSON file, numbers rounded to 6 significant digits.
    const earlier = roundDeep(await runMnist({ ...tiny, methods: ['schedule-free'] }));
    expect(() => fixedSettingsFrom(earlier, { ...DEFAULT_MNIST, ...tiny, seeds: 2 })).toThrow(
      /differs in seeds \(1, here 2\)/,
    );
    const result = await runScheduleFreePlus({ ...tiny, methods: ['schedule-free', SF_PLUS] }, earlier);
    const sf = result.methods['schedule-free']!;
    expect(sf.searchReused).toBe(true);
    expect(sf.reproduced).toBe(true);
    expect(sf.grid).toEqual(earlier.methods['schedule-free']!.grid);
    const plus = result.methods[SF_PLUS]!;
    expect(plus.searchReused).toBeUndefined();
    expect(plus.reproduced).toBe(true);
    expect(new Set(plus.grid.map((g) => g.weightDecay))).toEqual(new Set([0, 30]));
    expect(plus.final.validationLoss).toBe(Math.min(...plus.grid.map((g) => g.validationLoss)));
    expect(plus.final.testLoss).toBeLessThan(Math.log(10));
    // Only SF+ was searched here: 1 lr × 2 decays, then its refinement neighbours.
    expect(result.search.stages[0]).toMatchObject({ stage: 'coarse grid', jobs: 2 });
    const claims = result.checks.filter((c) => c.claim.startsWith('SF+'));
    expect(claims.map((c) => c.verdict).filter((v) => v !== 'reported')).toHaveLength(2);
  }, 180_000);
});
