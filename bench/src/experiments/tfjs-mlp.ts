/**
 * A multilayer perceptron trained with TensorFlow.js (wasm backend) for the deep-learning-style
 * experiments (B2 anytime, B5 MNIST): Schedule-Free AdamW from `@schedulefree/tfjs` against
 * tfjs's own Adam driven by `@schedulefree/core`'s schedules.
 *
 * All seeds of one configuration train under one optimizer: each seed has its own weights and
 * batches, and the loss is the sum of the seeds' losses, so each seed's weights get exactly their
 * own gradient. Adam and Schedule-Free AdamW are elementwise, so this is S independent runs with
 * one optimizer call per step.
 */
import { type LrScheduleSpec, lrSchedule } from '@schedulefree/core';
import { AdamWScheduleFree } from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { deriveSeed, Rng } from '../lib/rng.js';

let ready: Promise<string> | undefined;

/** Selects the wasm backend once (tfjs loads its .wasm from the package; no setup needed in Node). */
export function useWasmBackend(): Promise<string> {
  ready ??= (async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}

/** A classification dataset as tensors: features row-major, labels one-hot. */
export interface TensorData {
  xTrain: tf.Tensor2D;
  yTrain: tf.Tensor2D;
  xTest: tf.Tensor2D;
  yTest: tf.Tensor2D;
  classes: number;
}

/** Makes tensors from row-major features and integer labels, split by the given row lists. */
export function toTensorData(
  features: Float32Array | Float64Array,
  labels: Int32Array,
  dims: number,
  classes: number,
  trainRows: Int32Array,
  testRows: Int32Array,
): TensorData {
  const take = (rows: Int32Array) => {
    const x = new Float32Array(rows.length * dims);
    rows.forEach((r, i) => {
      x.set(features.subarray(r * dims, (r + 1) * dims), i * dims);
    });
    const y = tf.oneHot(
      tf.tensor1d(
        Int32Array.from(rows, (r) => labels[r]),
        'int32',
      ),
      classes,
    );
    return [tf.tensor2d(x, [rows.length, dims]), y.toFloat() as tf.Tensor2D] as const;
  };
  const [xTrain, yTrain] = take(trainRows);
  const [xTest, yTest] = take(testRows);
  return { xTrain, yTrain, xTest, yTest, classes };
}

/** A seeded split of `n` rows into train and test. */
export function splitRows(
  n: number,
  testSize: number,
  seed: number,
): { train: Int32Array; test: Int32Array } {
  const order = new Rng(deriveSeed(seed, 'split')).permutation(n);
  return { test: order.slice(0, testSize).sort(), train: order.slice(testSize).sort() };
}

/** How a run is optimized. */
export type TfOptimizerSpec =
  | {
      kind: 'schedule-free';
      lr: number;
      betas: [number, number];
      warmupSteps: number;
      weightDecay: number;
    }
  | {
      kind: 'adam';
      /** The lr schedule over the run (its `lr` is the peak). */
      schedule: LrScheduleSpec;
      betas: [number, number];
      /** Decoupled weight decay (AdamW, applied as PyTorch does: p ← p(1 − γλ) before the Adam step). */
      weightDecay: number;
    };

export interface MlpConfig {
  /** Layer widths, input first, e.g. [64, 64, 10]. */
  layers: number[];
  seeds: number;
  batchSize: number;
  epochs: number;
  /** Coupled L2 coefficient λ in the objective: CE + (λ/2)·Σ‖W‖² (kernels only). */
  l2: number;
}

/** Metrics of every seed at one epoch, evaluated at x for Schedule-Free. */
export interface EpochMetrics {
  epoch: number;
  trainObjective: number[];
  testLoss: number[];
  testAccuracy: number[];
}

interface Layer {
  w: tf.Variable;
  b: tf.Variable;
}

/** Every seed's own layers (Glorot-uniform kernels from the seed, zero biases). */
function initModel(config: MlpConfig): Layer[][] {
  const { layers, seeds } = config;
  return Array.from({ length: seeds }, (_, s) =>
    layers.slice(1).map((out, l) => {
      const fanIn = layers[l];
      const limit = Math.sqrt(6 / (fanIn + out)); // as tfjs's dense layers
      const rng = new Rng(deriveSeed(s, 'mlp-init', l));
      const values = Float32Array.from({ length: fanIn * out }, () => (2 * rng.uniform() - 1) * limit);
      return {
        w: tf.variable(tf.tensor2d(values, [fanIn, out]), true, `mlp_s${s}_w${l}_${uid()}`),
        b: tf.variable(tf.zeros([out]), true, `mlp_s${s}_b${l}_${uid()}`),
      };
    }),
  );
}

let counter = 0;
const uid = () => (counter++).toString(36);

/**
 * x·W with its gradient written as plain matMuls of explicit transposes: the same values as
 * tfjs's own gradient, which uses matMul's transpose flags, a path 5-10× slower on the wasm
 * backend.
 */
const dense = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor2D,
  w: tf.Tensor2D,
) => tf.Tensor2D;

/** Logits [N, C] of one seed's network. */
function forward(layers: Layer[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  layers.forEach((layer, l) => {
    const z = tf.add(dense(h, layer.w as tf.Tensor as tf.Tensor2D), layer.b) as tf.Tensor2D;
    h = l < layers.length - 1 ? tf.relu(z) : z;
  });
  return h;
}

/** Mean cross-entropy of one seed's network on (x, one-hot y). */
function crossEntropy(layers: Layer[], x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.div(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(forward(layers, x))))), x.shape[0]);
}

/** One seed's coupled L2 term (λ/2)·Σ‖W‖². */
function l2Term(layers: Layer[], l2: number): tf.Scalar {
  return tf.mul(l2 / 2, tf.addN(layers.map((layer) => tf.sum(tf.square(layer.w))))) as tf.Scalar;
}

/** Per-seed train objective, test loss and accuracy at the current weights. */
function evaluate(model: Layer[][], data: TensorData, config: MlpConfig): Omit<EpochMetrics, 'epoch'> {
  return tf.tidy(() => {
    const metrics = model.map((layers) => {
      const train = crossEntropy(layers, data.xTrain, data.yTrain);
      const objective = config.l2 ? tf.add(train, l2Term(layers, config.l2)) : train;
      const logits = forward(layers, data.xTest);
      const testLoss = tf.div(tf.neg(tf.sum(tf.mul(data.yTest, tf.logSoftmax(logits)))), data.xTest.shape[0]);
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(data.yTest, 1)), 'float32'));
      return tf.stack([objective, testLoss, tf.div(correct, data.xTest.shape[0])]);
    });
    const values = tf.stack(metrics).arraySync() as number[][];
    return {
      trainObjective: values.map((v) => v[0]),
      testLoss: values.map((v) => v[1]),
      testAccuracy: values.map((v) => v[2]),
    };
  });
}

/** One optimizer over the model's variables, with the step and evaluation hooks the loop needs. */
interface Stepper {
  step(grads: tf.NamedTensorMap, t: number): void;
  /** Runs `fn` with the weights at the evaluation point. */
  atEvalPoint<R>(fn: () => R): R;
  dispose(): void;
}

function makeStepper(spec: TfOptimizerSpec, variables: tf.Variable[]): Stepper {
  if (spec.kind === 'schedule-free') {
    const opt = new AdamWScheduleFree({
      lr: spec.lr,
      betas: spec.betas,
      warmupSteps: spec.warmupSteps,
      weightDecay: spec.weightDecay,
    });
    opt.attach(variables).train();
    return {
      step: (grads) => opt.applyGradients(grads),
      atEvalPoint(fn) {
        opt.eval();
        try {
          return fn();
        } finally {
          opt.train();
        }
      },
      dispose: () => opt.dispose(),
    };
  }
  const schedule = lrSchedule(spec.schedule);
  const opt = tf.train.adam(spec.schedule.lr, spec.betas[0], spec.betas[1], 1e-8);
  // tfjs reads the lr field at every step; it is only typed protected.
  const settable = opt as unknown as { learningRate: number };
  return {
    step(grads, t) {
      const lr = schedule(t);
      settable.learningRate = lr;
      if (spec.weightDecay !== 0) {
        tf.tidy(() => {
          for (const v of variables) v.assign(tf.mul(v, 1 - lr * spec.weightDecay));
        });
      }
      // tfjs looks the variables up by name; its typings ask for variables where gradients are given.
      opt.applyGradients(
        grads as unknown as Parameters<ReturnType<typeof tf.train.adam>['applyGradients']>[0],
      );
    },
    atEvalPoint: (fn) => fn(),
    dispose: () => opt.dispose(),
  };
}

/**
 * Trains one configuration for all seeds and returns the metrics at the requested epochs. Seed s
 * draws its own batch order (the same for every optimizer and lr).
 */
export function trainMlp(
  data: TensorData,
  config: MlpConfig,
  spec: TfOptimizerSpec,
  evalEpochs: readonly number[],
  onEpoch?: () => void,
): EpochMetrics[] {
  const { seeds, batchSize, epochs } = config;
  const n = data.xTrain.shape[0];
  const model = initModel(config);
  const variables = model.flatMap((layers) => layers.flatMap((l) => [l.w, l.b]));
  const stepper = makeStepper(spec, variables);
  const rngs = Array.from({ length: seeds }, (_, s) => new Rng(deriveSeed(s, 'mlp-order')));
  const records: EpochMetrics[] = [];
  let t = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const orders = rngs.map((rng) => rng.permutation(n));
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(start + batchSize, n);
        const { grads, value } = tf.tidy(() => {
          const batches = orders.map((order) => {
            const idx = tf.tensor1d(order.subarray(start, end), 'int32');
            return { x: tf.gather(data.xTrain, idx), y: tf.gather(data.yTrain, idx) };
          });
          // The sum of the seeds' objectives: each seed's weights get exactly their own gradient.
          return tf.variableGrads(() => {
            const terms = model.map((layers, s) => {
              const ce = crossEntropy(layers, batches[s].x, batches[s].y);
              return config.l2 ? tf.add(ce, l2Term(layers, config.l2)) : ce;
            });
            return tf.addN(terms) as tf.Scalar;
          }, variables);
        });
        value.dispose();
        try {
          stepper.step(grads, t++);
        } finally {
          tf.dispose(grads);
        }
      }
      if (evalEpochs.includes(epoch)) {
        records.push({ epoch, ...stepper.atEvalPoint(() => evaluate(model, data, config)) });
      }
      onEpoch?.();
    }
  } finally {
    stepper.dispose();
    tf.dispose(variables);
  }
  return records;
}
