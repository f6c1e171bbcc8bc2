/**
 * Selection rules: how an experiment picks "the best" hyper-parameters from a grid, written once so
 * the reported rule and the rule applied are the same code, and a bootstrap can re-apply them.
 */
import { argmin, mean } from './stats.js';

/**
 * The grid index whose seed mean is smallest. `values[i]` lists the seeds' values at grid point i;
 * `seeds` (a bootstrap resample) picks which seeds count, all of them by default.
 */
export function argminMean(values: ReadonlyArray<ArrayLike<number>>, seeds?: ArrayLike<number>): number {
  return argmin(values.map((v) => resampledMean(v, seeds)));
}

/** Mean of `values` over the listed indices (all of them when none are given). */
export function resampledMean(values: ArrayLike<number>, indices?: ArrayLike<number>): number {
  if (!indices) return mean(values);
  let s = 0;
  for (let i = 0; i < indices.length; i++) s += values[indices[i]];
  return s / indices.length;
}

/**
 * Median of `values` over the listed indices (all of them when none are given); NaN (a diverged
 * run) sorts last. `scratch` (length ≥ the number of indices) avoids an allocation per call.
 */
export function resampledMedian(
  values: ArrayLike<number>,
  indices?: ArrayLike<number>,
  scratch?: Float64Array,
): number {
  const n = indices ? indices.length : values.length;
  const buffer = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Float64Array(n);
  for (let i = 0; i < n; i++) buffer[i] = indices ? values[indices[i]] : values[i];
  buffer.sort(); // typed-array sort is numeric and puts NaN last
  const mid = n >> 1;
  return n % 2 ? buffer[mid] : (buffer[mid - 1] + buffer[mid]) / 2;
}

/**
 * The anytime score of a learning-curve: the area under log(objective) against log(epoch) from
 * epoch `from` to epoch `to` (trapezoid rule), divided by the width ln(to/from). `curve[e − 1]` is
 * the objective after epoch e. On log–log axes every doubling of the horizon weighs the same, so
 * the score rewards a run that is good at every horizon between `from` and `to`, not only at the
 * end; it is the mean log objective over that range.
 */
export function anytimeScore(curve: ArrayLike<number>, from: number, to: number): number {
  if (!(from >= 1 && to > from && to <= curve.length)) {
    throw new Error(`anytimeScore: need 1 ≤ from < to ≤ ${curve.length}, got ${from}..${to}`);
  }
  let area = 0;
  for (let e = from; e < to; e++) {
    const a = curve[e - 1];
    const b = curve[e];
    if (!(a > 0 && b > 0)) return Number.POSITIVE_INFINITY;
    area += 0.5 * (Math.log(a) + Math.log(b)) * Math.log((e + 1) / e);
  }
  return area / Math.log(to / from);
}

/** A point of a learning-rate × weight-decay grid: lr = 2^k, weight decay = weightDecays[w]. */
export interface GridPoint {
  k: number;
  w: number;
}

export const gridKey = (p: GridPoint) => `${p.k}|${p.w}`;

/**
 * One round of a coarse-to-fine search on integer lr exponents k: given the scores of the points
 * run so far (lower is better), returns the factor-2 neighbours k ± 1 of the best point, at its
 * weight decay, that have not been run and lie within `limits`. An empty list means the best point
 * is bracketed by run points on both sides (or by a limit). Repeating rounds both refines a coarse
 * grid and extends it when the optimum sits at its edge.
 */
export function refinementRound(
  scores: ReadonlyMap<string, number>,
  points: readonly GridPoint[],
  limits: [number, number],
): GridPoint[] {
  const best = bestPoint(scores, points);
  return [best.k - 1, best.k + 1]
    .filter((k) => k >= limits[0] && k <= limits[1])
    .map((k) => ({ k, w: best.w }))
    .filter((p) => !scores.has(gridKey(p)));
}

/** The run point with the lowest score (NaN counts as +∞; ties: the first listed). */
export function bestPoint(scores: ReadonlyMap<string, number>, points: readonly GridPoint[]): GridPoint {
  const run = points.filter((p) => scores.has(gridKey(p)));
  if (!run.length) throw new Error('bestPoint: no point has a score yet');
  return run[argmin(run.map((p) => scores.get(gridKey(p))!))];
}

/**
 * Where the selected point sits relative to what was searched: `lrInside` when both factor-2
 * neighbours at its weight decay were run and are no better; `weightDecayAtTop` when it uses the
 * largest weight decay of the grid (the optimum may lie above it).
 */
export function edgeFlags(
  scores: ReadonlyMap<string, number>,
  best: GridPoint,
  weightDecayCount: number,
): { lrInside: boolean; weightDecayAtTop: boolean } {
  const at = (k: number) => scores.get(gridKey({ k, w: best.w }));
  const own = scores.get(gridKey(best))!;
  const below = at(best.k - 1);
  const above = at(best.k + 1);
  const worse = (v: number | undefined) => v !== undefined && !(v < own);
  return {
    lrInside: worse(below) && worse(above),
    weightDecayAtTop: weightDecayCount > 1 && best.w === weightDecayCount - 1,
  };
}

/** Whether index i of a grid of n points is strictly inside it (the optimum is bracketed). */
export function insideGrid(i: number, n: number): boolean {
  return i > 0 && i < n - 1;
}
