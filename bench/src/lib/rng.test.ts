import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from './rng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xs);
  });

  it('draws uniforms, normals and Laplace variables with the right moments', () => {
    const rng = new Rng(1);
    const n = 200_000;
    let u = 0;
    let z = 0;
    let z2 = 0;
    let lap = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const v = rng.uniform();
      if (!(v >= 0 && v < 1)) outside++;
      u += v;
      const g = rng.normal();
      z += g;
      z2 += g * g;
      lap += Math.abs(rng.laplace(1));
    }
    expect(outside).toBe(0);
    expect(u / n).toBeCloseTo(0.5, 2);
    expect(z / n).toBeCloseTo(0, 2);
    expect(z2 / n).toBeCloseTo(1, 1);
    expect(lap / n).toBeCloseTo(1, 1); // E|Laplace(0, 1)| = 1
  });

  it('permutations are permutations', () => {
    const p = new Rng(3).permutation(100);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('derived seeds separate roles', () => {
    expect(deriveSeed(0, 'a')).not.toBe(deriveSeed(0, 'b'));
    expect(deriveSeed(1, 'a')).not.toBe(deriveSeed(0, 'a'));
    expect(deriveSeed(1, 'a', 2)).toBe(deriveSeed(1, 'a', 2));
  });
});
