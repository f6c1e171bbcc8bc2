/**
 * Temperature scaling (one scalar T per model, fitted on held-out data): separates how well a
 * classifier ranks the classes from how confident it is, so a test loss can be compared after the
 * over- or under-confidence that a learning rate or a horizon leaves behind is removed.
 */

/** Per-example cross-entropy of softmax(logits / T); `logits` is row-major N × classes. */
export function crossEntropies(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  temperature = 1,
): Float64Array {
  const n = labels.length;
  if (logits.length !== n * classes) throw new Error('crossEntropies: logits must be N × classes');
  const s = 1 / temperature;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, s * logits[row + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(s * logits[row + c] - max);
    out[i] = max + Math.log(sum) - s * logits[row + labels[i]];
  }
  return out;
}

/** Mean cross-entropy of softmax(logits / T). */
export function meanCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  temperature = 1,
): number {
  const ce = crossEntropies(logits, labels, classes, temperature);
  let s = 0;
  for (const v of ce) s += v;
  return s / ce.length;
}

/** 1 where the arg-max logit is the label (first maximum on ties), else 0. */
export function correctness(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best === labels[i] ? 1 : 0;
  }
  return out;
}

/**
 * First and second derivatives of the mean cross-entropy with respect to the inverse temperature
 * s = 1/T: d = mean(E_p[z] − z_y), h = mean(Var_p[z]) ≥ 0, with p = softmax(s·z). The loss is
 * convex in s, so its minimiser is where d changes sign.
 */
function derivatives(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number, s: number) {
  const n = labels.length;
  let d = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) max = Math.max(max, s * logits[row + c]);
    let sum = 0;
    let m1 = 0;
    let m2 = 0;
    for (let c = 0; c < classes; c++) {
      const z = logits[row + c];
      const w = Math.exp(s * z - max);
      sum += w;
      m1 += w * z;
      m2 += w * z * z;
    }
    m1 /= sum;
    m2 /= sum;
    d += m1 - logits[row + labels[i]];
    h += Math.max(m2 - m1 * m1, 0);
  }
  return { d: d / n, h: h / n };
}

/** Inverse temperatures searched: T between 1/1000 and 1000. */
const S_MIN = 1e-3;
const S_MAX = 1e3;

/**
 * The temperature T that minimises the mean cross-entropy of softmax(logits / T) on (logits,
 * labels): safeguarded Newton on s = 1/T inside a bracket that always contains the minimiser.
 * Returns a T at the end of [1/1000, 1000] when the minimiser lies beyond (e.g. separable data,
 * where the loss keeps falling as T → 0).
 */
export function fitTemperature(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): number {
  let lo = S_MIN;
  let hi = S_MAX;
  if (derivatives(logits, labels, classes, hi).d <= 0) return 1 / hi;
  if (derivatives(logits, labels, classes, lo).d >= 0) return 1 / lo;
  let s = 1;
  for (let iter = 0; iter < 200; iter++) {
    const { d, h } = derivatives(logits, labels, classes, s);
    if (d > 0) hi = s;
    else lo = s;
    if (Math.abs(d) < 1e-12 || hi - lo < 1e-12 * s) break;
    const newton = h > 0 ? s - d / h : Number.NaN;
    s = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
  }
  return 1 / s;
}
