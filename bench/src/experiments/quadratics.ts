/**
 * B3: large learning rates on quadratics (paper a, Fig. 2b). Deterministic Schedule-Free gradient
 * descent (the reference class, which accepts any β in [0, 1]) on random 20-dimensional quadratics
 * with eigenvalues log-uniform in [1e-6, 1]; the metric is log10 of the best suboptimality of x
 * over the run, relative to the start. The z-recursion is stable iff γ(1−β)λ_max < 2.
 */
import { SGDScheduleFreeReference } from '@schedulefree/core';
import { type Reporter, silentReporter } from '../lib/console.js';
import { bootstrap, type Interval, type Threshold } from '../lib/intervals.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { deriveSeed, Rng } from '../lib/rng.js';
import { resampledMean } from '../lib/selection.js';
import { mean } from '../lib/stats.js';
import { type Check, makeCheck } from './checks.js';

/** f(x) = ½ (x − x*)ᵀ A (x − x*), A = Q diag(λ) Qᵀ with a random rotation Q. */
export interface Quadratic {
  dims: number;
  /** Row-major A. */
  a: Float64Array;
  xStar: Float64Array;
  eigenvalues: Float64Array;
  /** A is diagonal (not rotated): gradients then cost O(d) instead of O(d²), with the same values. */
  diagonal: boolean;
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
  return { dims, a, xStar, eigenvalues, diagonal: !rotated };
}

/** f(x) − f* of the block of `x` at `offset`; writes ∇f into `g` at the same offset when given. */
export function quadraticGap(p: Quadratic, x: ArrayLike<number>, offset: number, g?: Float64Array): number {
  const d = p.dims;
  let f = 0;
  if (p.diagonal) {
    // The off-diagonal terms are exact zeros, so skipping them changes no value.
    for (let r = 0; r < d; r++) {
      const e = x[offset + r] - p.xStar[r];
      const s = p.a[r * d + r] * e;
      if (g) g[offset + r] = s;
      f += 0.5 * e * s;
    }
    return f;
  }
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
  /** Resamples of the bootstrap over problems behind every interval. */
  bootstrapReplicates: number;
}

export const DEFAULT_QUADRATICS: QuadraticsOptions = {
  // 200 problems: with 10 the spread claim's 95 % interval straddled its threshold.
  problems: 200,
  dims: 20,
  steps: 1000,
  betas: [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1],
  lrExponents: [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7],
  rotated: false,
  bootstrapReplicates: 2000,
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
    /** 95 % interval of the mean over problems (bootstrap over problems). */
    interval: Interval;
    diverged: number;
    /** Fraction of problems where condition (15) of Theorem 3 held (checked with z* = x_T). */
    theorem3Condition: number;
  }>;
  /** The selection rule, in words. */
  selection: string;
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
  const perProblem = Array.from(best, Math.log10);
  return {
    log10Suboptimality: mean(perProblem),
    perProblem,
    diverged: n - alive.reduce((a, b) => a + b, 0),
    theorem3Condition: mean(holds),
    curve,
  };
}

/** A B3 claim as a function of the cells' means (on all problems or a resample). */
interface QuadraticClaim {
  claim: string;
  threshold: Threshold;
  value: (at: (beta: number, lr: number) => number) => number;
}

/**
 * The spec's pass criteria for B3, on whatever cells were run. "Converges" = at least a 1000-fold
 * reduction; "fails" = less than a 10-fold reduction.
 */
export function quadraticClaims(cells: ReadonlyArray<{ beta: number; lr: number }>): QuadraticClaim[] {
  const has = (beta: number, lr: number) => cells.some((c) => c.beta === beta && c.lr === lr);
  const claims: QuadraticClaim[] = [];
  const cell = (claim: string, beta: number, lr: number, threshold: Threshold) => {
    if (has(beta, lr)) claims.push({ claim, threshold, value: (at) => at(beta, lr) });
  };
  cell('β = 0 converges at γ = 2', 0, 2, { op: '≤', bound: -3 });
  cell('β = 0 fails at γ = 4', 0, 4, { op: '>', bound: -1 });
  cell('β = 0.9 converges at γ = 16', 0.9, 16, { op: '≤', bound: -3.5 });
  cell('β = 0.98 converges at γ = 64', 0.98, 64, { op: '≤', bound: -3 });
  const small = [...new Set(cells.map((c) => c.lr))].filter((lr) => lr <= 2);
  const betas = [...new Set(cells.map((c) => c.beta))].filter((b) => b <= 0.98);
  if (small.length && betas.length > 1)
    claims.push({
      claim: 'spread over β ∈ [0, 0.98] for γ ≤ 2 (decades)',
      threshold: { op: '≤', bound: 0.3 },
      value: (at) =>
        Math.max(
          ...small.map((lr) => {
            const v = betas.map((b) => at(b, lr));
            return Math.max(...v) - Math.min(...v);
          }),
        ),
    });
  return claims;
}

export const QUADRATICS_SELECTION =
  'No tuning: every (β, γ) cell is reported. The metric is the best suboptimality of x over the run, so it is a fixed rule, not a selection.';

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
  const perProblem: number[][] = [];
  const curves: QuadraticsResult['curves'] = [];
  const task = reporter.task('B3 quadratics (β × γ)', options.betas.length * options.lrExponents.length);
  for (const beta of options.betas) {
    for (const k of options.lrExponents) {
      const lr = 2 ** k;
      const { curve, perProblem: values, ...cell } = runSfGd(problems, beta, lr, options.steps);
      cells.push({ beta, lr, ...cell, interval: [Number.NaN, Number.NaN] });
      perProblem.push(values);
      if ([0, 0.9, 0.98, 1].includes(beta) && [1, 16].includes(lr)) curves.push({ beta, lr, values: curve });
      task.tick();
    }
  }
  task.done();
  // One bootstrap over problems for every cell and claim (the claims compare cells of the same problems).
  const claims = quadraticClaims(cells);
  const boot = bootstrap(
    options.problems,
    (idx) => {
      const means = perProblem.map((values) => resampledMean(values, idx));
      const at = (beta: number, lr: number) => means[cells.findIndex((c) => c.beta === beta && c.lr === lr)];
      return [...means, ...claims.map((c) => c.value(at))];
    },
    { replicates: options.bootstrapReplicates, seed: 4 },
  );
  cells.forEach((cell, i) => {
    cell.interval = boot.intervals[i];
  });
  const uncertainty = `bootstrap over ${options.problems} random quadratics`;
  const checks = claims.map((c, i) =>
    makeCheck({
      claim: c.claim,
      measures: 'optimization',
      value: boot.estimates[cells.length + i],
      interval: boot.intervals[cells.length + i],
      uncertainty,
      threshold: c.threshold,
    }),
  );
  return {
    experiment: 'quadratics',
    config: options,
    machine: machineInfo(),
    seconds: (performance.now() - start) / 1000,
    selection: QUADRATICS_SELECTION,
    cells,
    curves,
    checks,
  };
}
