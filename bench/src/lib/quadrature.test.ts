import { describe, expect, it } from 'vitest';
import { gaussHermite, halfNormalExpectation } from './quadrature.js';

describe('Gaussian quadrature', () => {
  it('Gauss–Hermite integrates N(0, 1) moments and smooth functions exactly', () => {
    const { nodes, weights } = gaussHermite(32);
    const e = (f: (z: number) => number) => nodes.reduce((s, z, i) => s + weights[i] * f(z), 0);
    expect(e(() => 1)).toBeCloseTo(1, 14);
    expect(e((z) => z)).toBeCloseTo(0, 14);
    expect(e((z) => z * z)).toBeCloseTo(1, 13);
    expect(e((z) => z ** 4)).toBeCloseTo(3, 12);
    expect(e((z) => z ** 8)).toBeCloseTo(105, 9);
    expect(e(Math.exp)).toBeCloseTo(Math.exp(0.5), 13);
  });

  it('the half-normal rule integrates E[|Z|] and E[Z²]', () => {
    expect(halfNormalExpectation((z) => z)).toBeCloseTo(Math.sqrt(2 / Math.PI), 10);
    expect(halfNormalExpectation((z) => z * z)).toBeCloseTo(1, 12);
  });
});
