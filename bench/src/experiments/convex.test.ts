import { describe, expect, it } from 'vitest';
import { bundledData } from '../data.js';
import { CONVEX_METHODS, checkpoints, convexChecks, convexStats, runConvex } from './convex.js';

describe('B1 at tiny size', () => {
  const result = runConvex(bundledData('iris.csv'), {
    seeds: 3,
    epochs: 4,
    lrExponents: [-3, 0],
    bootstrapReplicates: 100,
  });

  it('writes { dataset, methods: { <method>: { bestLr, trainLoss, trainAccuracy, curve } } }', () => {
    expect(result.dataset).toBe('iris');
    expect(Object.keys(result.methods)).toEqual([...CONVEX_METHODS]);
    for (const m of Object.values(result.methods)) {
      expect([0.125, 0.25, 0.5, 1]).toContain(m.bestLr);
      expect(m.trainAccuracy).toBeGreaterThan(0.5);
      expect(m.trainAccuracy).toBeLessThanOrEqual(1);
      // Trained from zero weights: the loss starts below log(3) and falls.
      expect(m.curve[0].loss).toBeLessThan(Math.log(3));
      expect(m.trainLoss).toBeLessThan(m.curve[0].loss);
      expect(m.curve.map((c) => c.epoch)).toEqual([1, 2, 3, 4]);
      expect(m.trainLoss).toBe(Math.min(...m.grid.map((g) => g.loss)));
    }
  });

  it('evaluates the spec’s claims with seed-bootstrap intervals', () => {
    const claims = result.checks.map((c) => c.claim);
    expect(claims).toContain('iris: SF loss / LD loss');
    expect(claims).toContain('iris: SF − LD accuracy (pp)');
    const ratio = result.checks.find((c) => c.claim === 'iris: SF loss / LD loss')!;
    const sf = result.methods['schedule-free']!;
    const ld = result.methods['linear-decay']!;
    expect(ratio.value).toBeCloseTo(sf.trainLoss / ld.trainLoss, 12);
    expect(ratio.interval[0]).toBeLessThanOrEqual(ratio.interval[1]);
    expect(ratio.measures).toBe('optimization');
    expect(ratio.uncertainty).toBe('bootstrap over 3 seeds, lr re-selected');
  });
});

describe('convex helpers', () => {
  it('checkpoints: every epoch to 10, then every 5th and the last', () => {
    expect(checkpoints(12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    expect(checkpoints(100)).toHaveLength(28);
  });

  const finalsOf = (loss: number[][], accuracy: number[][]) => ({ loss, accuracy });

  it('re-selects each method’s lr on the seeds of a resample', () => {
    // Seed 0 prefers lr index 0, seed 1 lr index 1.
    const finals = {
      'schedule-free': finalsOf(
        [
          [1, 5],
          [4, 2],
        ],
        [
          [0.9, 0.5],
          [0.6, 0.8],
        ],
      ),
    };
    expect(convexStats(finals)['schedule-free']).toEqual({ loss: 3, accuracy: 0.7 });
    expect(convexStats(finals, [0, 0])['schedule-free']).toEqual({ loss: 1, accuracy: 0.9 });
    expect(convexStats(finals, [1, 1])['schedule-free']).toEqual({ loss: 2, accuracy: 0.8 });
  });

  it('skips the loss test on separable data and adds the Glass claim', () => {
    const perfect = {
      bestLr: 1,
      trainLoss: 1e-6,
      trainLossSe: 0,
      trainAccuracy: 1,
      trainAccuracySe: 0,
      curve: [],
      grid: [],
    };
    const wine = convexChecks(
      'wine',
      { 'schedule-free': perfect, 'linear-decay': { ...perfect, trainLoss: 1e-7 } },
      {
        'schedule-free': finalsOf([[1e-6, 1e-6]], [[1, 1]]),
        'linear-decay': finalsOf([[1e-7, 1e-7]], [[1, 1]]),
      },
      2,
      50,
    );
    expect(wine.map((c) => c.claim)).toEqual(['wine: SF − LD accuracy (pp)']);
    // Glass: SF ahead on every seed, so every resample agrees and the claims pass.
    const glass = convexChecks(
      'glass',
      {
        'schedule-free': { ...perfect, trainLoss: 0.6, trainAccuracy: 0.73 },
        'linear-decay': { ...perfect, trainLoss: 0.61, trainAccuracy: 0.72 },
      },
      {
        'schedule-free': finalsOf([[0.6, 0.59, 0.61]], [[0.73, 0.74, 0.72]]),
        'linear-decay': finalsOf([[0.61, 0.6, 0.62]], [[0.72, 0.73, 0.71]]),
      },
      3,
      200,
    );
    expect(glass.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass']);
    expect(glass.map((c) => c.claim)).toContain('glass: SF ahead of LD in accuracy (pp)');
    const gap = glass.find((c) => c.claim === 'glass: SF − LD accuracy (pp)')!;
    expect(gap.value).toBeCloseTo(1, 12);
    expect(gap.interval[0]).toBeCloseTo(1, 12);
    expect(gap.interval[1]).toBeCloseTo(1, 12);
  });
});
