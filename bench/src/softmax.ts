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
  // exp(logit − max) per class: computed once, used for the sum and the probabilities.
  if (scratch.length < classes) scratch = new Float64Array(classes);
  const scores = scratch;
  let loss = 0;
  let correct = 0;
  if (grad) {
    grad.w.fill(0);
    grad.b.fill(0);
  }
  const scale = 1 / rows.length;
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    const x = r * dims;
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let k = 0; k < classes; k++) {
      let s = b[k];
      const wk = k * dims;
      for (let d = 0; d < dims; d++) s += w[wk + d] * features[x + d];
      scores[k] = s;
      if (s > max) {
        max = s;
        best = k;
      }
    }
    const label = labels[r];
    const labelLogit = scores[label];
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(scores[k] - max);
      scores[k] = e;
      sum += e;
    }
    loss += Math.log(sum) - (labelLogit - max);
    if (best === label) correct++;
    if (grad) {
      for (let k = 0; k < classes; k++) {
        const p = (scores[k] / sum - (k === label ? 1 : 0)) * scale;
        grad.b[k] += p;
        const wk = k * dims;
        for (let d = 0; d < dims; d++) grad.w[wk + d] += p * features[x + d];
      }
    }
  }
  return { loss: loss / rows.length, correct };
}

let scratch = new Float64Array(16);
