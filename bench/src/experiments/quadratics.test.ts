import { describe, expect, it } from 'vitest';
import { quadraticGap, randomQuadratic, runQuadratics, runSfGd } from './quadratics.js';

describe('random quadratics', () => {
  it('have λ_max = 1, eigenvalues in [1e-6, 1], and their gap vanishes at x*', () => {
    for (const rotated of [false, true]) {
      const q = randomQuadratic(20, 3, 1e-6, rotated);
      expect(Math.max(...q.eigenvalues)).toBe(1);
      expect(Math.min(...q.eigenvalues)).toBeGreaterThanOrEqual(1e-6);
      expect(quadraticGap(q, q.xStar, 0)).toBeCloseTo(0, 14);
      // A is symmetric with trace Σλ.
      let trace = 0;
      for (let i = 0; i < 20; i++) trace += q.a[i * 20 + i];
      expect(trace).toBeCloseTo(
        q.eigenvalues.reduce((a, b) => a + b, 0),
        10,
      );
      expect(q.a[1 * 20 + 7]).toBeCloseTo(q.a[7 * 20 + 1], 14);
    }
  });

  it('the diagonal fast path gives exactly the dense values', () => {
    const q = randomQuadratic(12, 5);
    expect(q.diagonal).toBe(true);
    const dense = { ...q, diagonal: false };
    const x = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3);
    const g1 = new Float64Array(12);
    const g2 = new Float64Array(12);
    expect(quadraticGap(q, x, 0, g1)).toBe(quadraticGap(dense, x, 0, g2));
    expect(Array.from(g1)).toEqual(Array.from(g2));
  });

  it('SF-GD is rotation-equivariant at moderate γ: rotated and diagonal give the same curve', () => {
    const plain = runSfGd([randomQuadratic(8, 1, 1e-6, false)], 0.9, 1, 100);
    const rotated = runSfGd([randomQuadratic(8, 1, 1e-6, true)], 0.9, 1, 100);
    expect(rotated.log10Suboptimality).toBeCloseTo(plain.log10Suboptimality, 8);
  });
});

describe('B3 at small size', () => {
  const result = runQuadratics({
    problems: 3,
    steps: 300,
    betas: [0, 0.9],
    lrExponents: [1, 2, 4],
    bootstrapReplicates: 100,
  });

  it('shows the stability edge γ(1 − β) < 2', () => {
    const cell = (beta: number, lr: number) => result.cells.find((c) => c.beta === beta && c.lr === lr)!;
    expect(cell(0, 2).log10Suboptimality).toBeLessThan(-2);
    expect(cell(0, 2).diverged).toBe(0);
    expect(cell(0, 4).diverged).toBe(3);
    expect(cell(0.9, 16).log10Suboptimality).toBeLessThan(-2);
    expect(result.cells).toHaveLength(6);
    expect(result.curves.find((c) => c.beta === 0.9 && c.lr === 16)!.values).toHaveLength(300);
  });

  it('gives every cell and claim an interval over problems', () => {
    for (const c of result.cells) {
      expect(c.interval[0]).toBeLessThanOrEqual(c.log10Suboptimality + 1e-12);
      expect(c.interval[1]).toBeGreaterThanOrEqual(c.log10Suboptimality - 1e-12);
    }
    const claims = result.checks.map((c) => c.claim);
    expect(claims).toEqual([
      'β = 0 converges at γ = 2',
      'β = 0 fails at γ = 4',
      'β = 0.9 converges at γ = 16',
      'spread over β ∈ [0, 0.98] for γ ≤ 2 (decades)',
    ]);
    const spread = result.checks[3];
    const at = (beta: number) => result.cells.find((c) => c.beta === beta && c.lr === 2)!.log10Suboptimality;
    expect(spread.value).toBeCloseTo(Math.abs(at(0) - at(0.9)), 12);
    expect(spread.uncertainty).toBe('bootstrap over 3 random quadratics');
  });
});
