/**
 * The growth verdict of a soak run: given one metric's samples over a loop, did it grow after
 * warm-up? Exact counters (live tensors, bytes, sessions, kernels) must not change at all; noisy
 * measurements (RSS, heap after a forced GC) may wander within a tolerance.
 */

/** How much a noisy metric may exceed its steady-state reference: `reference × (1 + ratio) + bytes`. */
export interface Tolerance {
  ratio: number;
  bytes: number;
}

/** What is checked of one metric: `exact` (every steady-state sample equal) or `noisy` (with a tolerance). */
export type MetricRule = { kind: 'exact' } | { kind: 'noisy'; tolerance: Tolerance };

export interface MetricVerdict {
  metric: string;
  kind: 'exact' | 'noisy';
  /** Value at the start of steady state (noisy: the median of the first `window` steady samples). */
  reference: number;
  /** Value at the end (noisy: the median of the last `window` samples). */
  final: number;
  /** The largest value allowed at the end (exact: the reference itself). */
  limit: number;
  /** Least-squares growth per loop unit over the steady-state samples (informational). */
  slopePerUnit: number;
  pass: boolean;
  /** One sentence: why it passed or failed. */
  reason: string;
}

/** Samples that take part in a verdict: `at` is the loop position (step, cycle, fit) of each value. */
export interface Series {
  at: readonly number[];
  values: readonly number[];
}

/** How many samples the noisy verdict takes the median of, at each end of steady state. */
export const NOISE_WINDOW = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Least-squares slope of values over positions (0 for fewer than two distinct positions). */
export function slope(at: readonly number[], values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanAt = at.reduce((s, a) => s + a, 0) / n;
  const meanValue = values.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (at[i] - meanAt) * (values[i] - meanValue);
    den += (at[i] - meanAt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * Judges one metric. `steadyFrom` is the index of the first steady-state sample (samples before it
 * are warm-up and ignored). Throws when there is no steady-state sample to judge: a verdict on
 * nothing would always pass.
 */
export function judge(metric: string, rule: MetricRule, series: Series, steadyFrom: number): MetricVerdict {
  const { at, values } = series;
  if (at.length !== values.length)
    throw new Error(`${metric}: ${at.length} positions for ${values.length} values`);
  if (!Number.isInteger(steadyFrom) || steadyFrom < 0 || steadyFrom >= values.length - 1) {
    throw new Error(
      `${metric}: steady state from sample ${steadyFrom} leaves fewer than 2 of ${values.length} samples to judge`,
    );
  }
  const steadyAt = at.slice(steadyFrom);
  const steady = values.slice(steadyFrom);
  const growth = slope(steadyAt, steady);
  if (steady.some((v) => !Number.isFinite(v))) {
    return {
      metric,
      kind: rule.kind,
      reference: steady[0],
      final: steady[steady.length - 1],
      limit: steady[0],
      slopePerUnit: Number.NaN,
      pass: false,
      reason: `a sample is not a finite number (${steady.find((v) => !Number.isFinite(v))})`,
    };
  }
  if (rule.kind === 'exact') {
    const reference = steady[0];
    const changed = steady.findIndex((v) => v !== reference);
    const final = steady[steady.length - 1];
    return {
      metric,
      kind: 'exact',
      reference,
      final,
      limit: reference,
      slopePerUnit: growth,
      pass: changed < 0,
      reason:
        changed < 0
          ? `equal to ${reference} at all ${steady.length} steady-state samples`
          : `was ${reference} at ${steadyAt[0]}, ${steady[changed]} at ${steadyAt[changed]} (final ${final})`,
    };
  }
  const window = Math.max(1, Math.min(NOISE_WINDOW, Math.floor(steady.length / 2)));
  const reference = median(steady.slice(0, window));
  const final = median(steady.slice(-window));
  const limit = Math.floor(reference * (1 + rule.tolerance.ratio) + rule.tolerance.bytes);
  const pass = final <= limit;
  return {
    metric,
    kind: 'noisy',
    reference,
    final,
    limit,
    slopePerUnit: growth,
    pass,
    reason: pass
      ? `final ${final} ≤ limit ${limit} (reference ${reference})`
      : `final ${final} > limit ${limit} (reference ${reference}; ${growth.toPrecision(3)} per unit)`,
  };
}
