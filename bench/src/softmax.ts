import type { Dataset } from './data.js';

/**
 * Softmax regression with a bias: parameters `w` (classes × dims) and `b` (classes). Computes the
 * mean cross-entropy over the given rows and, optionally, its gradient.
 */
export function softmaxLoss(
  data: Dataset,
  w: Float64Array | Float32Array,
  b: Float64Array | Float32Array,
  rows: ArrayLike<number>,
  grad?: { w: Float64Array | Float32Array; b: Float64Array | Float32Array },
): { loss: number; correct: number } {
  const { dims, classes, features, labels } = data;
  const logits = new Float64Array(classes);
  let loss = 0;
  let correct = 0;
  if (grad) {
    grad.w.fill(0);
    grad.b.fill(0);
  }
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let k = 0; k < classes; k++) {
      let s = b[k];
      for (let d = 0; d < dims; d++) s += w[k * dims + d] * features[r * dims + d];
      logits[k] = s;
      if (s > max) {
        max = s;
        best = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[k] - max);
    const label = labels[r];
    loss += Math.log(sum) - (logits[label] - max);
    if (best === label) correct++;
    if (grad) {
      for (let k = 0; k < classes; k++) {
        const p = Math.exp(logits[k] - max) / sum - (k === label ? 1 : 0);
        grad.b[k] += p / rows.length;
        for (let d = 0; d < dims; d++) grad.w[k * dims + d] += (p * features[r * dims + d]) / rows.length;
      }
    }
  }
  return { loss: loss / rows.length, correct };
}
