import { describe, expect, it } from 'vitest';
import { argmin, logLogSlope, mean, median, powerGrid, roundDeep, standardError } from './stats.js';

describe('stats helpers', () => {
  it('logLogSlope recovers the exponent of a power law, whatever its constant', () => {
    const xs = [2, 4, 8, 16];
    expect(
      logLogSlope(
        xs,
        xs.map((x) => 3 * x ** 0.37),
      ),
    ).toBeCloseTo(0.37, 12);
    expect(
      logLogSlope(
        xs,
        xs.map((x) => 0.01 * x ** 2),
      ),
    ).toBeCloseTo(2, 12);
    expect(
      logLogSlope(
        xs,
        xs.map(() => 5),
      ),
    ).toBeCloseTo(0, 12);
    expect(() => logLogSlope([1], [1])).toThrow();
  });

  it('median and argmin put NaN (diverged runs) last', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([1, Number.NaN, 2])).toBe(2);
    expect(argmin([3, Number.NaN, 1, 1])).toBe(2);
    expect(argmin([Number.NaN, Number.NaN])).toBe(0);
  });

  it('mean and standard error', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(standardError([1, 3])).toBeCloseTo(1, 12);
    expect(standardError([5])).toBe(0);
  });

  it('powerGrid spaces learning rates geometrically', () => {
    expect(powerGrid(-2, 1)).toEqual([0.25, 0.5, 1, 2]);
    const half = powerGrid(-2, 2, 2);
    expect(half).toHaveLength(5);
    expect(half[1] / half[0]).toBeCloseTo(Math.SQRT2, 14);
  });

  it('roundDeep rounds numbers everywhere in a JSON value and leaves the rest', () => {
    expect(roundDeep({ a: [1 / 3, 'x'], b: { c: 2 / 3 }, d: true }, 3)).toEqual({
      a: [0.333, 'x'],
      b: { c: 0.667 },
      d: true,
    });
  });
});
