/**
 * Gaussian expectations computed by quadrature. The streaming problems of the robustness benchmark
 * have Gaussian inputs, so their population losses reduce to one- or two-dimensional Gaussian
 * integrals, which quadrature evaluates to near machine precision (a finite evaluation sample
 * would add noise of the same size as the excess losses being compared).
 */

/** Nodes and weights for E[f(Z)], Z ~ N(0, 1): `Σ w_i f(z_i)`. */
export interface GaussRule {
  nodes: Float64Array;
  weights: Float64Array;
}

const cache = new Map<number, GaussRule>();

/**
 * Gauss–Hermite rule with `n` nodes for the standard normal, exact for polynomials of degree
 * < 2n. Nodes of the physicists' Hermite polynomial found by Newton's method from the usual
 * asymptotic starting guesses, then rescaled to N(0, 1).
 */
export function gaussHermite(n: number): GaussRule {
  const hit = cache.get(n);
  if (hit) return hit;
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  const m = (n + 1) >> 1;
  const pim4 = Math.PI ** -0.25;
  let z = 0;
  for (let i = 0; i < m; i++) {
    if (i === 0) z = Math.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** -0.16667;
    else if (i === 1) z -= (1.14 * n ** 0.426) / z;
    else if (i === 2) z = 1.86 * z - 0.86 * x[0];
    else if (i === 3) z = 1.91 * z - 0.91 * x[1];
    else z = 2 * z - x[i - 2];
    let pp = 0;
    for (let iter = 0; iter < 100; iter++) {
      // Orthonormal recurrence for the Hermite functions.
      let p1 = pim4;
      let p2 = 0;
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = z * Math.sqrt(2 / j) * p2 - Math.sqrt((j - 1) / j) * p3;
      }
      pp = Math.sqrt(2 * n) * p2;
      const dz = p1 / pp;
      z -= dz;
      if (Math.abs(dz) <= 1e-15 * Math.max(1, Math.abs(z))) break;
    }
    x[i] = z;
    x[n - 1 - i] = -z;
    w[i] = 2 / (pp * pp);
    w[n - 1 - i] = w[i];
  }
  // ∫ e^{−t²} f(t) dt with t = z/√2 turns into E[f(Z)] for Z ~ N(0, 1).
  const rule: GaussRule = { nodes: new Float64Array(n), weights: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    rule.nodes[i] = Math.SQRT2 * x[i];
    rule.weights[i] = w[i] / Math.sqrt(Math.PI);
  }
  cache.set(n, rule);
  return rule;
}

/**
 * E[f(Z)] over Z ~ N(0, 1) restricted to Z ≥ 0, times 2 (i.e. E[f(|Z|)]), by composite Simpson on
 * [0, 12]; for integrands that are smooth on the half-line but not across 0.
 */
export function halfNormalExpectation(f: (z: number) => number, intervals = 2400): number {
  const upper = 12;
  const h = upper / intervals;
  const density = (z: number) => Math.exp(-0.5 * z * z) * Math.sqrt(2 / Math.PI);
  let sum = density(0) * f(0) + density(upper) * f(upper);
  for (let i = 1; i < intervals; i++) {
    const z = i * h;
    sum += (i % 2 ? 4 : 2) * density(z) * f(z);
  }
  return (sum * h) / 3;
}
