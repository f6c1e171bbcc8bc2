/**
 * The two streaming convex problems of the robustness benchmark (B4): a fresh Gaussian sample every
 * step, minimiser w* with ‖w*‖ = 2. Their population losses are computed exactly (by quadrature),
 * not estimated on a sample.
 */
import { gaussHermite, halfNormalExpectation } from '../lib/quadrature.js';
import { deriveSeed, Rng } from '../lib/rng.js';

export type StreamingProblemName = 'logistic' | 'lad';

export interface StreamingProblem {
  readonly name: StreamingProblemName;
  readonly dims: number;
  readonly wStar: Float64Array;
  /** Draws x ~ N(0, I) into `x[offset..offset+dims)` and returns its label. */
  sample(rng: Rng, x: Float64Array, offset: number): number;
  /** Writes the per-sample (sub)gradient at `w[offset..]` for `(x[offset..], y)` into `g[offset..]`. */
  gradient(w: Float64Array, x: Float64Array, y: number, offset: number, g: Float64Array): void;
  /** Population excess loss F(w) − F(w*) of `w[offset..offset+dims)` (Infinity if w is not finite). */
  excess(w: ArrayLike<number>, offset: number): number;
}

const softplus = (t: number) => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)));
const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

function minimiser(dims: number, seed: number): Float64Array {
  const rng = new Rng(deriveSeed(seed, 'w-star'));
  const w = Float64Array.from({ length: dims }, () => rng.normal());
  const norm = Math.hypot(...w);
  return w.map((v) => (2 * v) / norm);
}

/** w·w* and ‖w‖² of the block at `offset`, or null if it holds a non-finite value. */
function projections(w: ArrayLike<number>, offset: number, wStar: Float64Array) {
  let dot = 0;
  let sq = 0;
  for (let i = 0; i < wStar.length; i++) {
    const v = w[offset + i];
    dot += v * wStar[i];
    sq += v * v;
  }
  return Number.isFinite(sq) ? { dot, sq } : null;
}

/**
 * P1: well-specified logistic regression, P(y = 1 | x) = σ(w*·x), labels ±1. The excess loss is
 * E_x[KL(Bern σ(w*·x) ‖ Bern σ(w·x))], which depends on w only through the Gaussian pair
 * (w·x, w*·x): a two-dimensional Gauss–Hermite integral.
 */
export function logisticProblem(dims = 10, seed = 0): StreamingProblem {
  const wStar = minimiser(dims, seed);
  const s = Math.hypot(...wStar);
  const { nodes, weights } = gaussHermite(48);
  return {
    name: 'logistic',
    dims,
    wStar,
    sample(rng, x, offset) {
      let m = 0;
      for (let i = 0; i < dims; i++) {
        const v = rng.normal();
        x[offset + i] = v;
        m += v * wStar[i];
      }
      return rng.uniform() < sigmoid(m) ? 1 : -1;
    },
    gradient(w, x, y, offset, g) {
      let m = 0;
      for (let i = 0; i < dims; i++) m += w[offset + i] * x[offset + i];
      const coef = -y * sigmoid(-y * m);
      for (let i = 0; i < dims; i++) g[offset + i] = coef * x[offset + i];
    },
    excess(w, offset) {
      const p = projections(w, offset, wStar);
      if (!p) return Number.POSITIVE_INFINITY;
      // b = w*·x = s·Z1, a = w·x = α·Z1 + β·Z2 with independent standard normals Z1, Z2.
      const alpha = p.dot / s;
      const beta = Math.sqrt(Math.max(0, p.sq - alpha * alpha));
      let total = 0;
      for (let i = 0; i < nodes.length; i++) {
        const b = s * nodes[i];
        const prob = sigmoid(b);
        const spb = softplus(b);
        const spnb = softplus(-b);
        let inner = 0;
        for (let j = 0; j < nodes.length; j++) {
          const a = alpha * nodes[i] + beta * nodes[j];
          inner += weights[j] * (prob * (softplus(-a) - spnb) + (1 - prob) * (softplus(a) - spb));
        }
        total += weights[i] * inner;
      }
      return Math.max(total, 0);
    },
  };
}

/**
 * P2: least-absolute-deviation regression, y = w*·x + Laplace(1). Non-smooth per sample. With
 * δ = w − w* and σ = ‖δ‖, F(w) − F(w*) = E|ε − σZ| − E|ε| = E_Z[σ|Z| + e^{−σ|Z|} − 1].
 */
export function ladProblem(dims = 10, seed = 0): StreamingProblem {
  const wStar = minimiser(dims, seed);
  return {
    name: 'lad',
    dims,
    wStar,
    sample(rng, x, offset) {
      let m = 0;
      for (let i = 0; i < dims; i++) {
        const v = rng.normal();
        x[offset + i] = v;
        m += v * wStar[i];
      }
      return m + rng.laplace(1);
    },
    gradient(w, x, y, offset, g) {
      let m = 0;
      for (let i = 0; i < dims; i++) m += w[offset + i] * x[offset + i];
      const sign = Math.sign(m - y);
      for (let i = 0; i < dims; i++) g[offset + i] = sign * x[offset + i];
    },
    excess(w, offset) {
      let sq = 0;
      for (let i = 0; i < dims; i++) sq += (w[offset + i] - wStar[i]) ** 2;
      if (!Number.isFinite(sq)) return Number.POSITIVE_INFINITY;
      const sigma = Math.sqrt(sq);
      // u + expm1(−u) keeps full relative precision when σ|Z| is small.
      return halfNormalExpectation((z) => sigma * z + Math.expm1(-sigma * z));
    },
  };
}

export function streamingProblem(name: StreamingProblemName, dims = 10, seed = 0): StreamingProblem {
  return name === 'logistic' ? logisticProblem(dims, seed) : ladProblem(dims, seed);
}
