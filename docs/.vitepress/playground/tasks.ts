/**
 * The playground's problems, with their losses and gradients written out in plain JavaScript over
 * Float32Array parameters (the tfjs backends compute the same losses with tfjs ops instead).
 */
import type { Dataset, DatasetName } from './data';
import { Random } from './random';

export type TaskId = 'mlp' | 'logistic' | 'rosenbrock';
export type Params = Record<string, Float32Array>;

export interface LossAndGrads {
  loss: number;
  grads: Params;
}

export interface Task {
  readonly id: TaskId;
  readonly label: string;
  /** What is trained, in one sentence for the page. */
  readonly summary: string;
  readonly dataset?: DatasetName;
  /** Parameter shapes by name: [rows, columns] for matrices (row-major), [n] for vectors. */
  shapes(data?: Dataset): Record<string, number[]>;
  /** Starting parameters, the same for every backend and optimizer with one seed. */
  init(seed: number, data?: Dataset): Params;
  /** Mean loss on the given training rows and its gradient (one pass over the rows). */
  lossAndGrads(params: Params, data: Dataset | undefined, rows: Int32Array | undefined): LossAndGrads;
  /** Mean loss on all training rows (what the chart shows). */
  trainLoss(params: Params, data?: Dataset): number;
  /** Share of test rows classified correctly, for classification tasks. */
  testAccuracy?(params: Params, data: Dataset): number;
}

/** Hidden units of the digits network. */
export const HIDDEN = 32;

const zerosLike = (params: Params): Params =>
  Object.fromEntries(Object.entries(params).map(([name, p]) => [name, new Float32Array(p.length)]));

/** A small multilayer perceptron on the 8×8 digits: 64 → 32 (ReLU) → 10, softmax cross-entropy. */
const mlp: Task = {
  id: 'mlp',
  label: 'Digits: MLP 64-32-10',
  summary:
    'A two-layer perceptron (64 → 32 ReLU → 10, 2,410 parameters) classifying the 8×8 handwritten digits of bench/data (1,438 training and 359 test images), with mini-batches.',
  dataset: 'digits',
  shapes: (data) => ({
    w1: [data!.dims, HIDDEN],
    b1: [HIDDEN],
    w2: [HIDDEN, data!.classes],
    b2: [data!.classes],
  }),
  init(seed, data) {
    const { dims, classes } = data!;
    const random = new Random(seed);
    const glorot = (fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return Float32Array.from({ length: fanIn * fanOut }, () => random.symmetric(limit));
    };
    return {
      w1: glorot(dims, HIDDEN),
      b1: new Float32Array(HIDDEN),
      w2: glorot(HIDDEN, classes),
      b2: new Float32Array(classes),
    };
  },
  lossAndGrads(params, data, rows) {
    return mlpPass(params, data!, rows ?? allRows(data!), true) as LossAndGrads;
  },
  trainLoss: (params, data) => mlpPass(params, data!, allRows(data!), false).loss,
  testAccuracy(params, data) {
    const { w1, b1, w2, b2 } = params;
    const { dims, classes, test } = data;
    let correct = 0;
    const hidden = new Float64Array(HIDDEN);
    for (let r = 0; r < test.rows; r++) {
      forwardHidden(test.features, r * dims, dims, w1, b1, hidden);
      let best = 0;
      let bestValue = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < classes; k++) {
        let z = b2[k];
        for (let j = 0; j < HIDDEN; j++) z += hidden[j] * w2[j * classes + k];
        if (z > bestValue) [best, bestValue] = [k, z];
      }
      if (best === test.labels[r]) correct++;
    }
    return correct / test.rows;
  },
};

function allRows(data: Dataset): Int32Array {
  return Int32Array.from({ length: data.train.rows }, (_, i) => i);
}

function forwardHidden(
  x: Float32Array,
  offset: number,
  dims: number,
  w1: Float32Array,
  b1: Float32Array,
  hidden: Float64Array,
): void {
  for (let j = 0; j < HIDDEN; j++) hidden[j] = b1[j];
  for (let d = 0; d < dims; d++) {
    const xd = x[offset + d];
    if (xd === 0) continue;
    for (let j = 0; j < HIDDEN; j++) hidden[j] += xd * w1[d * HIDDEN + j];
  }
  for (let j = 0; j < HIDDEN; j++) if (hidden[j] < 0) hidden[j] = 0;
}

/** Forward (and, with `backward`, backward) pass of the MLP over some training rows. */
function mlpPass(
  params: Params,
  data: Dataset,
  rows: Int32Array,
  backward: boolean,
): Partial<LossAndGrads> & {
  loss: number;
} {
  const { w1, b1, w2, b2 } = params;
  const { dims, classes, train } = data;
  const grads = backward ? zerosLike(params) : undefined;
  const hidden = new Float64Array(HIDDEN);
  const logits = new Float64Array(classes);
  const dHidden = new Float64Array(HIDDEN);
  let loss = 0;
  for (const r of rows) {
    const offset = r * dims;
    forwardHidden(train.features, offset, dims, w1, b1, hidden);
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k++) {
      let z = b2[k];
      for (let j = 0; j < HIDDEN; j++) z += hidden[j] * w2[j * classes + k];
      logits[k] = z;
      max = Math.max(max, z);
    }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[k] - max);
    const label = train.labels[r];
    loss += Math.log(sum) + max - logits[label];
    if (!grads) continue;
    // dLoss/dLogits = softmax − one-hot, averaged over the rows.
    dHidden.fill(0);
    for (let k = 0; k < classes; k++) {
      const d = (Math.exp(logits[k] - max) / sum - (k === label ? 1 : 0)) / rows.length;
      grads.b2[k] += d;
      for (let j = 0; j < HIDDEN; j++) {
        grads.w2[j * classes + k] += hidden[j] * d;
        dHidden[j] += w2[j * classes + k] * d;
      }
    }
    for (let j = 0; j < HIDDEN; j++) if (hidden[j] <= 0) dHidden[j] = 0;
    for (let j = 0; j < HIDDEN; j++) grads.b1[j] += dHidden[j];
    for (let d = 0; d < dims; d++) {
      const xd = train.features[offset + d];
      if (xd === 0) continue;
      for (let j = 0; j < HIDDEN; j++) grads.w1[d * HIDDEN + j] += xd * dHidden[j];
    }
  }
  return { loss: loss / rows.length, grads };
}

/** Binary logistic regression on the breast-cancer data (30 features). */
const logistic: Task = {
  id: 'logistic',
  label: 'Logistic regression (breast cancer)',
  summary:
    'Binary logistic regression (31 parameters) on the 30 standardised features of the breast-cancer data of bench/data (455 training and 114 test rows), with mini-batches.',
  dataset: 'breast_cancer',
  shapes: (data) => ({ w: [data!.dims], b: [1] }),
  init: (_seed, data) => ({ w: new Float32Array(data!.dims), b: new Float32Array(1) }),
  lossAndGrads(params, data, rows) {
    return logisticPass(params, data!, rows ?? allRows(data!), true) as LossAndGrads;
  },
  trainLoss: (params, data) => logisticPass(params, data!, allRows(data!), false).loss,
  testAccuracy(params, data) {
    const { w, b } = params;
    const { dims, test } = data;
    let correct = 0;
    for (let r = 0; r < test.rows; r++) {
      let z = b[0];
      for (let d = 0; d < dims; d++) z += w[d] * test.features[r * dims + d];
      if ((z > 0 ? 1 : 0) === test.labels[r]) correct++;
    }
    return correct / test.rows;
  },
};

function logisticPass(params: Params, data: Dataset, rows: Int32Array, backward: boolean) {
  const { w, b } = params;
  const { dims, train } = data;
  const grads = backward ? zerosLike(params) : undefined;
  let loss = 0;
  for (const r of rows) {
    const offset = r * dims;
    let z = b[0];
    for (let d = 0; d < dims; d++) z += w[d] * train.features[offset + d];
    const y = train.labels[r];
    // log(1 + e^z) − y·z, written to stay finite for large |z|.
    loss += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
    if (!grads) continue;
    const d = (1 / (1 + Math.exp(-z)) - y) / rows.length;
    grads.b[0] += d;
    for (let i = 0; i < dims; i++) grads.w[i] += d * train.features[offset + i];
  }
  return { loss: loss / rows.length, grads };
}

/** Where the Rosenbrock runs start, and the valley's constants. */
export const ROSENBROCK = { start: [-1.5, 2.5], a: 1, b: 100 } as const;

/** f(u, v) = (a − u)² + b(v − u²)², minimum 0 at (a, a²). */
export function rosenbrock(u: number, v: number): number {
  return (ROSENBROCK.a - u) ** 2 + ROSENBROCK.b * (v - u * u) ** 2;
}

const valley: Task = {
  id: 'rosenbrock',
  label: 'Rosenbrock valley (2-D)',
  summary:
    'The 2-D Rosenbrock function (1 − u)² + 100(v − u²)², from (−1.5, 2.5) to its minimum at (1, 1), with exact gradients; the contour plot draws the paths of y, z and x.',
  shapes: () => ({ uv: [2] }),
  init: () => ({ uv: Float32Array.from(ROSENBROCK.start) }),
  lossAndGrads(params) {
    const [u, v] = params.uv;
    const gap = v - u * u;
    return {
      loss: rosenbrock(u, v),
      grads: {
        uv: Float32Array.of(-2 * (ROSENBROCK.a - u) - 4 * ROSENBROCK.b * u * gap, 2 * ROSENBROCK.b * gap),
      },
    };
  },
  trainLoss: (params) => rosenbrock(params.uv[0], params.uv[1]),
};

export const tasks: Record<TaskId, Task> = { mlp, logistic, rosenbrock: valley };
