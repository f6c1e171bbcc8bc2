import { describe, expect, it } from 'vitest';
import { bundledData } from '../data.js';
import { CONVEX_METHODS, checkpoints, convexChecks, runConvex } from './convex.js';

describe('B1 at tiny size', () => {
  const result = runConvex(bundledData('iris.csv'), { seeds: 2, epochs: 4, lrExponents: [-3, 0] });

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

  it('evaluates the spec’s claims', () => {
    const claims = result.checks.map((c) => c.claim);
    expect(claims).toContain('iris: SF loss / LD loss');
    expect(claims).toContain('iris: SF − LD accuracy (pp)');
  });
});

describe('convex helpers', () => {
  it('checkpoints: every epoch to 10, then every 5th and the last', () => {
    expect(checkpoints(12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    expect(checkpoints(100)).toHaveLength(28);
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
    const wine = convexChecks('wine', {
      'schedule-free': perfect,
      'linear-decay': { ...perfect, trainLoss: 1e-7 },
    });
    expect(wine.map((c) => c.claim)).toEqual(['wine: SF − LD accuracy (pp)']);
    const glass = convexChecks('glass', {
      'schedule-free': { ...perfect, trainLoss: 0.6, trainAccuracy: 0.73 },
      'linear-decay': { ...perfect, trainLoss: 0.61, trainAccuracy: 0.72 },
    });
    expect(glass.every((c) => c.pass)).toBe(true);
    expect(glass.map((c) => c.claim)).toContain('glass: SF ahead of LD in accuracy (pp)');
  });
});
