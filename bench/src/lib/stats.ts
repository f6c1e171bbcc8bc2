/** Small statistics helpers shared by the experiments: grids, summaries over seeds, fits. */

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/** Median; NaN values sort last, so a minority of diverged runs does not poison it. */
export function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b));
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Standard error of the mean. */
export function standardError(values: ArrayLike<number>): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] - m) ** 2;
  return Math.sqrt(s / (values.length - 1) / values.length);
}

/** Index of the smallest value, treating NaN as +∞ (ties: the first). */
export function argmin(values: ArrayLike<number>): number {
  let best = -1;
  let bestValue = Number.POSITIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = Number.isNaN(values[i]) ? Number.POSITIVE_INFINITY : values[i];
    if (best < 0 || v < bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** `2^(k/perOctave)` for k = lo..hi: a geometric learning-rate grid. */
export function powerGrid(lo: number, hi: number, perOctave = 1): number[] {
  const grid: number[] = [];
  for (let k = lo; k <= hi; k++) grid.push(2 ** (k / perOctave));
  return grid;
}

/** Least-squares slope of log(y) against log(x): the exponent a in y ∝ x^a. */
export function logLogSlope(xs: readonly number[], ys: readonly number[]): number {
  if (xs.length !== ys.length || xs.length < 2) throw new Error('logLogSlope: need two or more (x, y) pairs');
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = mean(lx);
  const my = mean(ly);
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i] - mx) * (ly[i] - my);
    den += (lx[i] - mx) ** 2;
  }
  return num / den;
}

/** Rounds every number in a JSON value to `digits` significant digits (keeps committed files small). */
export function roundDeep<T>(value: T, digits = 6): T {
  if (typeof value === 'number') return (Number.isFinite(value) ? +value.toPrecision(digits) : value) as T;
  if (Array.isArray(value)) return value.map((v) => roundDeep(v, digits)) as T;
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v, digits)])) as T;
  }
  return value;
}
