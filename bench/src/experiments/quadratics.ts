/**
 * B3: large learning rates on quadratics (paper a, Fig. 2b). Deterministic Schedule-Free gradient
 * descent (the reference class, which accepts any β in [0, 1]) on random 20-dimensional quadratics
 * with eigenvalues log-uniform in [1e-6, 1]; the metric is log10 of the best suboptimality of x
 * over the run, relative to the start. The z-recursion is stable iff γ(1−β)λ_max < 2.
 */
import { SGDScheduleFreeReference } from '@schedulefree/core';
import { type Reporter, silentReporter } from '../lib/console.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { deriveSeed, Rng } from '../lib/rng.js';
import { mean } from '../lib/stats.js';
import type { Check } from './robustness.js';

/** f(x) = ½ (x − x*)ᵀ A (x − x*), A = Q diag(λ) Qᵀ with a random rotation Q. */
export interface Quadratic {
  dims: number;
  /** Row-major A. */
  a: Float64Array;
  xStar: Float64Array;
  eigenvalues: Float64Array;
}

/**
 * A random quadratic: eigenvalues log-uniform in [λmin, 1] with λ_max = 1 exactly, x* ~ N(0, I).
 *
 * By default A is diagonal (the problem in its eigenbasis). SF-GD is rotation-equivariant, so a
 * rotated A gives the same trajectory of f in exact arithmetic; but at large γ the first steps
 * amplify the stiff direction by up to ~10^18 in x before the averaging tames it, and in float64 a
 * rotation leaks that peak's rounding error into the slow directions (λ ≈ 1e-6), which never
 * recover within the run. `rotated: true` shows that effect.
 */
export function randomQuadratic(dims: number, seed: number, lambdaMin = 1e-6, rotated = false): Quadratic {
  const rng = new Rng(deriveSeed(seed, 'quadratic'));
  const eigenvalues = Float64Array.from({ length: dims }, (_, i) =>
    i === 0 ? 1 : lambdaMin ** rng.uniform(),
  );
  // x* in the eigenbasis; the rotation (if any) is drawn afterwards, so both variants of a seed
  // are the same problem in different coordinates.
  const starInEigenbasis = Float64Array.from({ length: dims }, () => rng.normal());
  // Gram–Schmidt on a Gaussian matrix gives a uniformly random orthogonal Q (rows q_k).
  const q = Array.from({ length: dims }, (_, i) =>
    Float64Array.from({ length: dims }, (_, j) => (rotated ? rng.normal() : i === j ? 1 : 0)),
  );
  for (let i = 0; i < dims; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let k = 0; k < dims; k++) dot += q[i][k] * q[j][k];
      for (let k = 0; k < dims; k++) q[i][k] -= dot * q[j][k];
    }
    const norm = Math.hypot(...q[i]);
    for (let k = 0; k < dims; k++) q[i][k] /= norm;
  }
  // A = Σ λ_k q_k q_kᵀ, x* = Σ u*_k q_k.
  const a = new Float64Array(dims * dims);
  const xStar = new Float64Array(dims);
  for (let r = 0; r < dims; r++) {
    for (let c = 0; c < dims; c++) {
      let s = 0;
      for (let k = 0; k < dims; k++) s += eigenvalues[k] * q[k][r] * q[k][c];
      a[r * dims + c] = s;
    }
    for (let k = 0; k < dims; k++) xStar[r] += starInEigenbasis[k] * q[k][r];
  }
  return { dims, a, xStar, eigenvalues };
}

/** f(x) − f* of the block of `x` at `offset`; writes ∇f into `g` at the same offset when given. */
export function quadraticGap(p: Quadratic, x: ArrayLike<number>, offset: number, g?: Float64Array): number {
  const d = p.dims;
  let f = 0;
  for (let r = 0; r < d; r++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += p.a[r * d + c] * (x[offset + c] - p.xStar[c]);
    if (g) g[offset + r] = s;
    f += 0.5 * (x[offset + r] - p.xStar[r]) * s;
  }
  return f;
}

export interface QuadraticsOptions {
  problems: number;
  dims: number;
  steps: number;
  betas: number[];
  /** γ = 2^k for these k. */
  lrExponents: number[];
  /** Randomly rotate each quadratic (see {@link randomQuadratic}); default false. */
  rotated: boolean;
}

export const DEFAULT_QUADRATICS: QuadraticsOptions = {
  problems: 10,
  dims: 20,
  steps: 1000,
  betas: [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1],
  lrExponents: [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7],
  rotated: false,
};

export interface QuadraticsResult {
  experiment: 'quadratics';
  config: QuadraticsOptions;
  machine: MachineInfo;
  seconds: number;
  /** One cell per (β, γ): mean over problems of log10(min_t gap(x_t) / gap(x_1)). */
  cells: Array<{
    beta: number;
    lr: number;
    log10Suboptimality: number;
    diverged: number;
    /** Fraction of problems where condition (15) of Theorem 3 held (checked with z* = x_T). */
    theorem3Condition: number;
  }>;
  /** Best-so-far log10 suboptimality at every step, mean over problems, for a few (β, γ). */
  curves: Array<{ beta: number; lr: number; values: number[] }>;
  checks: Check[];
}

/**
 * Above this growth of the gap a run is declared diverged and stopped. Large on purpose: at large γ
 * the first steps (where c is still large and x follows z) amplify the gap enormously before the
 * averaging takes over, and such runs may still converge.
 */
const DIVERGED = 1e150;

/**
 * One deterministic SF-GD run on every problem at once (the blocks of one parameter vector), with
 * the best relative gap of x per step and the Theorem 3 diagnostic.
 */
export function runSfGd(problems: Quadratic[], beta: number, lr: number, steps: number) {
  const d = problems[0].dims;
  const n = problems.length;
  const w = new Float64Array(n * d);
  const g = new Float64Array(n * d);
  const opt = new SGDScheduleFreeReference({ w }, { lr, momentum: beta }).train();
  const start = problems.map((p, i) => quadraticGap(p, w, i * d));
  const best = new Float64Array(n).fill(1);
  const alive = new Uint8Array(n).fill(1);
  const curve: number[] = [];
  // Theorem 3: Σ⟨g_t, z_t − z_1⟩ ≤ ‖x_1 − x_T‖·sqrt(Σ‖g_t‖²); with SGD as the base, z_t − z_1 = −Σ γ g.
  const zShift = new Float64Array(n * d);
  const inner = new Float64Array(n);
  const gradSq = new Float64Array(n);
  for (let t = 0; t < steps && alive.some(Boolean); t++) {
    for (let i = 0; i < n; i++) quadraticGap(problems[i], w, i * d, g);
    for (let i = 0; i < n * d; i++) {
      const block = (i / d) | 0;
      inner[block] += g[i] * zShift[i];
      gradSq[block] += g[i] * g[i];
      zShift[i] -= lr * g[i];
    }
    // Diverged blocks get zero gradients so the others keep going (their result is already fixed).
    for (let i = 0; i < n; i++) if (!alive[i]) g.fill(0, i * d, (i + 1) * d);
    opt.step({ w: g });
    const x = opt.evalParams().w;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (alive[i]) {
        const rel = quadraticGap(problems[i], x, i * d) / start[i];
        if (!(rel < DIVERGED)) alive[i] = 0;
        else best[i] = Math.min(best[i], rel);
      }
      sum += Math.log10(best[i]);
    }
    curve.push(sum / n);
  }
  const xT = opt.evalParams().w;
  const holds = problems.map((_, i) => {
    let dist = 0;
    for (let k = i * d; k < (i + 1) * d; k++) dist += xT[k] ** 2; // x_1 = 0
    return alive[i] && inner[i] <= Math.sqrt(dist) * Math.sqrt(gradSq[i]) ? 1 : 0;
  });
  return {
    log10Suboptimality: mean(Array.from(best, Math.log10)),
    diverged: n - alive.reduce((a, b) => a + b, 0),
    theorem3Condition: mean(holds),
    curve,
  };
}

/** The spec's pass criteria for B3. */
export function quadraticsChecks(cells: QuadraticsResult['cells']): Check[] {
  const at = (beta: number, lr: number) =>
    cells.find((c) => c.beta === beta && c.lr === lr)?.log10Suboptimality;
  const checks: Check[] = [];
  const push = (
    claim: string,
    value: number | undefined,
    threshold: string,
    pass: (v: number) => boolean,
  ) => {
    if (value !== undefined) checks.push({ claim, value, threshold, pass: pass(value) });
  };
  // "Converges" = at least a 1000-fold reduction; "fails" = less than a 10-fold reduction.
  push('β = 0 converges at γ = 2', at(0, 2), '≤ −3', (v) => v <= -3);
  push('β = 0 fails at γ = 4', at(0, 4), '> −1', (v) => v > -1);
  push('β = 0.9 converges at γ = 16', at(0.9, 16), '≤ −3.5', (v) => v <= -3.5);
  push('β = 0.98 converges at γ = 64', at(0.98, 64), '≤ −3', (v) => v <= -3);
  const small = [...new Set(cells.map((c) => c.lr))].filter((lr) => lr <= 2);
  const spread = Math.max(
    ...small.map((lr) => {
      const v = cells.filter((c) => c.lr === lr && c.beta <= 0.98).map((c) => c.log10Suboptimality);
      return Math.max(...v) - Math.min(...v);
    }),
  );
  if (small.length) push('spread over β ∈ [0, 0.98] for γ ≤ 2 (decades)', spread, '≤ 0.3', (v) => v <= 0.3);
  return checks;
}

/** Runs B3. */
export function runQuadratics(
  partial: Partial<QuadraticsOptions> = {},
  reporter: Reporter = silentReporter,
): QuadraticsResult {
  const options = { ...DEFAULT_QUADRATICS, ...partial };
  const start = performance.now();
  const problems = Array.from({ length: options.problems }, (_, i) =>
    randomQuadratic(options.dims, i, 1e-6, options.rotated),
  );
  const cells: QuadraticsResult['cells'] = [];
  const curves: QuadraticsResult['curves'] = [];
  const task = reporter.task('B3 quadratics (β × γ)', options.betas.length * options.lrExponents.length);
  for (const beta of options.betas) {
    for (const k of options.lrExponents) {
      const lr = 2 ** k;
      const { curve, ...cell } = runSfGd(problems, beta, lr, options.steps);
      cells.push({ beta, lr, ...cell });
      if ([0, 0.9, 0.98, 1].includes(beta) && [1, 16].includes(lr)) curves.push({ beta, lr, values: curve });
      task.tick();
    }
  }
  task.done();
  return {
    experiment: 'quadratics',
    config: options,
    machine: machineInfo(),
    seconds: (performance.now() - start) / 1000,
    cells,
    curves,
    checks: quadraticsChecks(cells),
  };
}
