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

  it('SF-GD is rotation-equivariant at moderate γ: rotated and diagonal give the same curve', () => {
    const plain = runSfGd([randomQuadratic(8, 1, 1e-6, false)], 0.9, 1, 100);
    const rotated = runSfGd([randomQuadratic(8, 1, 1e-6, true)], 0.9, 1, 100);
    expect(rotated.log10Suboptimality).toBeCloseTo(plain.log10Suboptimality, 8);
  });
});

describe('B3 at small size', () => {
  const result = runQuadratics({ problems: 2, steps: 300, betas: [0, 0.9], lrExponents: [1, 2, 4] });

  it('shows the stability edge γ(1 − β) < 2', () => {
    const cell = (beta: number, lr: number) => result.cells.find((c) => c.beta === beta && c.lr === lr)!;
    expect(cell(0, 2).log10Suboptimality).toBeLessThan(-2);
    expect(cell(0, 2).diverged).toBe(0);
    expect(cell(0, 4).diverged).toBe(2);
    expect(cell(0.9, 16).log10Suboptimality).toBeLessThan(-2);
    expect(result.cells).toHaveLength(6);
    expect(result.curves.find((c) => c.beta === 0.9 && c.lr === 16)!.values).toHaveLength(300);
  });
});
