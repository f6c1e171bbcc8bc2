/**
 * Uncertainty for the experiments' claims: percentile bootstrap intervals (over seeds, test
 * examples or random problems) and the three-way verdict of a claim whose value has an interval.
 */
import { Rng } from './rng.js';

/** A two-sided interval [lo, hi]. */
export type Interval = [number, number];

/**
 * The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` values, interpolating linearly between order
 * statistics (the usual "type 7" definition, the default of R and numpy).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  // Equal neighbours (including two infinities) need no interpolation.
  if (sorted[hi] === sorted[lo]) return sorted[lo];
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The central `level` interval of a sample (e.g. bootstrap replicates). Non-finite values (a
 * diverged resample) sort as +∞, so they widen the upper end instead of being dropped.
 */
export function percentileInterval(samples: ArrayLike<number>, level = 0.95): Interval {
  const sorted = Float64Array.from(samples, (v) => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : v)).sort();
  const tail = (1 - level) / 2;
  return [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)];
}

/** n indices drawn uniformly with replacement from 0..n−1. */
export function resample(n: number, rng: Rng, into = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) into[i] = rng.int(n);
  return into;
}

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  replicates?: number;
  /** Seed of the resampling generator, so intervals are reproducible. */
  seed?: number;
  /** Coverage of the percentile interval (default 0.95). */
  level?: number;
}

export interface BootstrapResult {
  /** The statistic on the original sample (indices 0..n−1). */
  estimates: number[];
  /** Percentile interval of each component over the resamples. */
  intervals: Interval[];
  /** Standard deviation of each component over the resamples (the bootstrap standard error). */
  standardErrors: number[];
}

/**
 * Percentile bootstrap of a vector-valued statistic of n exchangeable units (seeds, test
 * examples, problems). `statistic` receives the unit indices of one resample and returns one or
 * more numbers; all components share each resample, so paired and joint claims (a ratio of two
 * methods run on the same seeds) keep their pairing. Selection steps belong inside `statistic`,
 * so the interval includes the selection's own variability.
 */
export function bootstrap(
  n: number,
  statistic: (indices: Int32Array) => number[],
  { replicates = 2000, seed = 0, level = 0.95 }: BootstrapOptions = {},
): BootstrapResult {
  if (n < 1) throw new Error('bootstrap: need at least one unit');
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const estimates = statistic(identity);
  const draws = estimates.map(() => new Float64Array(replicates));
  const rng = new Rng(seed);
  const indices = new Int32Array(n);
  for (let r = 0; r < replicates; r++) {
    const values = statistic(resample(n, rng, indices));
    for (let c = 0; c < draws.length; c++) draws[c][r] = values[c];
  }
  return {
    estimates,
    intervals: draws.map((d) => percentileInterval(d, level)),
    standardErrors: draws.map(sampleSd),
  };
}

function sampleSd(values: Float64Array): number {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return Number.NaN;
  let m = 0;
  for (const v of finite) m += v;
  m /= finite.length;
  let s = 0;
  for (const v of finite) s += (v - m) ** 2;
  return Math.sqrt(s / (finite.length - 1));
}

/**
 * Paired bootstrap over examples of mean(a) − mean(b), where a[i] and b[i] are the same example
 * under two methods (per-example correctness or loss). Returns the difference and its interval.
 */
export function pairedMeanDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: BootstrapOptions = {},
): { value: number; interval: Interval; standardError: number } {
  if (a.length !== b.length) throw new Error('pairedMeanDifference: a and b must have the same length');
  const diff = Float64Array.from(a, (v, i) => v - b[i]);
  const result = bootstrap(
    diff.length,
    (idx) => {
      let s = 0;
      for (let i = 0; i < idx.length; i++) s += diff[idx[i]];
      return [s / idx.length];
    },
    options,
  );
  return {
    value: result.estimates[0],
    interval: result.intervals[0],
    standardError: result.standardErrors[0],
  };
}

/** Paired bootstrap over examples of mean(a) / mean(b) (e.g. one method's test loss over another's). */
export function pairedMeanRatio(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: BootstrapOptions = {},
): { value: number; interval: Interval; standardError: number } {
  if (a.length !== b.length) throw new Error('pairedMeanRatio: a and b must have the same length');
  const result = bootstrap(
    a.length,
    (idx) => {
      let sa = 0;
      let sb = 0;
      for (let i = 0; i < idx.length; i++) {
        sa += a[idx[i]];
        sb += b[idx[i]];
      }
      return [sa / sb];
    },
    options,
  );
  return {
    value: result.estimates[0],
    interval: result.intervals[0],
    standardError: result.standardErrors[0],
  };
}

/** The interval of |Δ| given Δ's interval (|·| folds it at 0). */
export function absoluteInterval([lo, hi]: Interval): Interval {
  if (lo <= 0 && hi >= 0) return [0, Math.max(-lo, hi)];
  return lo > 0 ? [lo, hi] : [-hi, -lo];
}

/** A claim's threshold: the value must satisfy `value op bound`. */
export interface Threshold {
  op: '≤' | '≥' | '<' | '>';
  bound: number;
}

/**
 * pass: the whole interval satisfies the threshold; fail: none of it does; inconclusive: the
 * interval contains the threshold (it is wider than its distance to it); reported: no threshold.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'reported';

export function satisfies(value: number, { op, bound }: Threshold): boolean {
  switch (op) {
    case '≤':
      return value <= bound;
    case '≥':
      return value >= bound;
    case '<':
      return value < bound;
    case '>':
      return value > bound;
  }
}

/** The verdict of a claim from its interval (a monotone threshold needs only the two ends). */
export function verdictOf(interval: Interval, threshold?: Threshold): Verdict {
  if (!threshold) return 'reported';
  const lo = satisfies(interval[0], threshold);
  const hi = satisfies(interval[1], threshold);
  if (lo && hi) return 'pass';
  if (!lo && !hi) return 'fail';
  return 'inconclusive';
}

export function formatThreshold(t: Threshold | undefined): string {
  return t ? `${t.op} ${t.bound}` : '–';
}
