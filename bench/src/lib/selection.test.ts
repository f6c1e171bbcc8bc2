import { describe, expect, it } from 'vitest';
import {
  anytimeScore,
  argminMean,
  bestPoint,
  edgeFlags,
  type GridPoint,
  gridKey,
  insideGrid,
  refinementRound,
  resampledMean,
} from './selection.js';

describe('selection rules', () => {
  it('argminMean picks the lowest seed mean, over a resample when given', () => {
    const values = [
      [1, 5, 5],
      [3, 3, 3],
      [9, 0, 0],
    ];
    expect(argminMean(values)).toBe(1);
    expect(argminMean(values, Int32Array.from([0, 0, 0]))).toBe(0);
    expect(argminMean(values, Int32Array.from([1, 2, 2]))).toBe(2);
    expect(resampledMean([2, 4, 9], [1, 1, 2])).toBeCloseTo(17 / 3, 12);
    expect(argminMean([[Number.NaN], [2]])).toBe(1);
  });

  it('anytime score: mean log objective over log epochs, exact for a power law', () => {
    const curve = Array.from({ length: 40 }, (_, i) => 3 * (i + 1) ** -0.7);
    // log f = log 3 − 0.7 log e is linear in log e, so the trapezoid rule is exact.
    expect(anytimeScore(curve, 5, 40)).toBeCloseTo(
      Math.log(3) - 0.7 * 0.5 * (Math.log(5) + Math.log(40)),
      12,
    );
    expect(anytimeScore(Array(10).fill(0.2), 1, 10)).toBeCloseTo(Math.log(0.2), 12);
    expect(() => anytimeScore(curve, 5, 41)).toThrow();
    expect(anytimeScore([1, Number.NaN, 1], 1, 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('anytime score prefers the run that is good at every horizon over one that is best only at the end', () => {
    const steady = Array.from({ length: 40 }, (_, i) => 1 / (i + 1));
    const late = steady.map((v, i) => (i < 39 ? 3 * v : 0.9 * v));
    expect(late[39]).toBeLessThan(steady[39]);
    expect(anytimeScore(steady, 5, 40)).toBeLessThan(anytimeScore(late, 5, 40));
  });

  it('coarse-to-fine rounds bracket the best point, extend past an edge and stop at the limits', () => {
    const loss = (p: GridPoint) => (p.k + 6.2) ** 2 + p.w; // optimum at k = −6, w = 0
    const scores = new Map<string, number>();
    const points: GridPoint[] = [];
    const run = (ps: GridPoint[]) => {
      for (const p of ps) {
        points.push(p);
        scores.set(gridKey(p), loss(p));
      }
    };
    run([-11, -9].flatMap((k) => [0, 1].map((w) => ({ k, w })))); // coarse grid, optimum above it
    const rounds: GridPoint[][] = [];
    for (let r = 0; r < 10; r++) {
      const next = refinementRound(scores, points, [-14, 0]);
      if (!next.length) break;
      rounds.push(next);
      run(next);
    }
    expect(bestPoint(scores, points)).toEqual({ k: -6, w: 0 });
    expect(rounds[0]).toEqual([
      { k: -10, w: 0 },
      { k: -8, w: 0 },
    ]);
    expect(edgeFlags(scores, { k: -6, w: 0 }, 2)).toEqual({ lrInside: true, weightDecayAtTop: false });
    // At a hard limit the search stops and the flag says the optimum was not bracketed.
    const limited = new Map([
      [gridKey({ k: 0, w: 1 }), 1],
      [gridKey({ k: -1, w: 1 }), 2],
    ]);
    expect(
      refinementRound(
        limited,
        [
          { k: 0, w: 1 },
          { k: -1, w: 1 },
        ],
        [-14, 0],
      ),
    ).toEqual([]);
    expect(edgeFlags(limited, { k: 0, w: 1 }, 2)).toEqual({ lrInside: false, weightDecayAtTop: true });
  });

  it('insideGrid is false at both ends', () => {
    expect([0, 1, 2, 3].map((i) => insideGrid(i, 4))).toEqual([false, true, true, false]);
  });
});
