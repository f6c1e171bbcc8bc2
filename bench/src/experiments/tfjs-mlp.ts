/**
 * A multilayer perceptron trained with TensorFlow.js (wasm backend) for the deep-learning-style
 * experiments (B2 anytime, B5 MNIST): Schedule-Free AdamW from `@schedulefree/tfjs` against
 * tfjs's own Adam driven by `@schedulefree/core`'s schedules, and ScheduleFree+ from
 * `@schedulefree/core` on typed-array copies of the weights.
 *
 * All seeds of one configuration train under one optimizer: each seed has its own weights and
 * batches, and the loss is the sum of the seeds' losses, so each seed's weights get exactly their
 * own gradient. Adam and Schedule-Free AdamW are elementwise, so this is S independent runs with
 * one optimizer call per step. ScheduleFree+ is not elementwise (its Polyak step size sums over
 * every parameter and needs the loss), so it gets one optimizer per seed and each seed's own loss.
 */
import { AdamCScheduleFreePlusPaper, type LrScheduleSpec, lrSchedule } from '@schedulefree/core';
import { AdamWScheduleFree } from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { correctness, crossEntropies, fitTemperature } from '../lib/calibration.js';
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

/** One split of a classification dataset: features row-major, labels one-hot and as integers. */
export interface Split {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
  labels: Int32Array;
}

/** A classification dataset as tensors, with an optional validation split for selection. */
export interface TensorData {
  train: Split;
  validation?: Split;
  test: Split;
  classes: number;
}

export type HeldOut = 'validation' | 'test';

/** Makes tensors from row-major features and integer labels, split by the given row lists. */
export function toTensorData(
  features: Float32Array | Float64Array,
  labels: Int32Array,
  dims: number,
  classes: number,
  rows: { train: Int32Array; validation?: Int32Array; test: Int32Array },
): TensorData {
  const take = (list: Int32Array): Split => {
    const x = new Float32Array(list.length * dims);
    list.forEach((r, i) => {
      x.set(features.subarray(r * dims, (r + 1) * dims), i * dims);
    });
    const rowLabels = Int32Array.from(list, (r) => labels[r]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(rowLabels, 'int32'), classes).toFloat() as tf.Tensor2D);
    return { x: tf.tensor2d(x, [list.length, dims]), y, labels: rowLabels };
  };
  return {
    train: take(rows.train),
    validation: rows.validation?.length ? take(rows.validation) : undefined,
    test: take(rows.test),
    classes,
  };
}

/** Frees a dataset's tensors. */
export function disposeData(data: TensorData): void {
  for (const split of [data.train, data.validation, data.test]) if (split) tf.dispose([split.x, split.y]);
}

/**
 * A seeded random split of `n` rows: a random permutation (so an input ordered by class, like the
 * `mnist` package's, is split at random), its first `testSize` rows for test, the next
 * `validationSize` for validation, the rest for training. Each list is returned in ascending order.
 */
export function splitRows(
  n: number,
  testSize: number,
  seed: number,
  validationSize = 0,
): { train: Int32Array; validation: Int32Array; test: Int32Array } {
  if (testSize + validationSize >= n) {
    throw new Error(
      `splitRows: test (${testSize}) + validation (${validationSize}) leave no training rows of ${n}`,
    );
  }
  const order = new Rng(deriveSeed(seed, 'split')).permutation(n);
  return {
    test: order.slice(0, testSize).sort(),
    validation: order.slice(testSize, testSize + validationSize).sort(),
    train: order.slice(testSize + validationSize).sort(),
  };
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
    }
  | {
      /**
       * ScheduleFree+ (`AdamCScheduleFreePlusPaper` of `@schedulefree/core`, float32 WebAssembly),
       * one optimizer per seed over typed-array copies of its weights; every other option at the
       * reference's default.
       */
      kind: 'schedule-free-plus';
      /** The base lr that multiplies the Polyak step size. */
      lr: number;
      /** AdamC weight decay (scaled by the squared step size). */
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

/** What to measure during a run, and when. */
export interface EvaluationPlan {
  /** Epochs after which to evaluate (at x for Schedule-Free). */
  epochs: readonly number[];
  /** The train objective (cross-entropy + coupled L2) on every training row. */
  train?: boolean;
  /** Cross-entropy and accuracy on these held-out splits. */
  heldOut?: readonly HeldOut[];
  /** Fit a temperature per seed on validation and report the test cross-entropy at it. */
  calibrate?: boolean;
  /** Epochs at which to return every test example's loss and correctness, per seed. */
  perExampleAt?: readonly number[];
}

/** Cross-entropy and accuracy of every seed on one split. */
export interface SplitMetrics {
  loss: number[];
  accuracy: number[];
}

/** Every seed's metrics after one epoch (at x for Schedule-Free); only what the plan asked for. */
export interface EpochRecord {
  epoch: number;
  trainObjective?: number[];
  validation?: SplitMetrics;
  test?: SplitMetrics;
  /** The temperature fitted on validation and the test cross-entropy at it, per seed. */
  calibrated?: { temperature: number[]; testLoss: number[] };
  /** Per seed: each test example's cross-entropy (at T = 1 and at the fitted T) and correctness. */
  perExample?: { loss: Float32Array[]; calibratedLoss?: Float32Array[]; correct: Uint8Array[] };
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

/**
 * x·W for the input layer: the gradient with respect to the data x is never used, so it is zeros
 * instead of a matMul (a third of the first layer's backward pass); W's gradient is the same.
 */
const denseOnData = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs] = saved as tf.Tensor2D[];
      return [tf.zerosLike(xs), tf.matMul(tf.transpose(xs), dy)];
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
    const matMul = l === 0 ? denseOnData : dense;
    const z = tf.add(matMul(h, layer.w as tf.Tensor as tf.Tensor2D), layer.b) as tf.Tensor2D;
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

/** Logits of one seed's network on a split, as a row-major Float32Array. */
function logitsOf(layers: Layer[], split: Split): Float32Array {
  return tf.tidy(() => forward(layers, split.x)).dataSync() as Float32Array;
}

const meanOf = (values: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
};

/** Every seed's metrics at the current weights, as the plan asks. */
function evaluate(
  model: Layer[][],
  data: TensorData,
  config: MlpConfig,
  plan: EvaluationPlan,
  epoch: number,
): EpochRecord {
  const record: EpochRecord = { epoch };
  if (plan.train) {
    record.trainObjective = tf.tidy(() => {
      const values = model.map((layers) => {
        const ce = crossEntropy(layers, data.train.x, data.train.y);
        return config.l2 ? tf.add(ce, l2Term(layers, config.l2)) : ce;
      });
      return Array.from(tf.stack(values).dataSync());
    });
  }
  const wantsPerExample = plan.perExampleAt?.includes(epoch) ?? false;
  const needed = new Set<HeldOut>(plan.heldOut ?? []);
  if (plan.calibrate) needed.add('validation').add('test');
  if (wantsPerExample) needed.add('test');
  const logits: Partial<Record<HeldOut, Float32Array[]>> = {};
  for (const name of needed) {
    const split = data[name];
    if (!split) throw new Error(`evaluate: the dataset has no ${name} split`);
    logits[name] = model.map((layers) => logitsOf(layers, split));
  }
  const { classes } = data;
  for (const name of plan.heldOut ?? []) {
    const split = data[name]!;
    record[name] = {
      loss: logits[name]!.map((z) => meanOf(crossEntropies(z, split.labels, classes))),
      accuracy: logits[name]!.map((z) => meanOf(correctness(z, split.labels, classes))),
    };
  }
  let temperatures: number[] | undefined;
  if (plan.calibrate) {
    const validation = data.validation!;
    temperatures = logits.validation!.map((z) => fitTemperature(z, validation.labels, classes));
    record.calibrated = {
      temperature: temperatures,
      testLoss: logits.test!.map((z, s) =>
        meanOf(crossEntropies(z, data.test.labels, classes, temperatures![s])),
      ),
    };
  }
  if (wantsPerExample) {
    const labels = data.test.labels;
    record.perExample = {
      loss: logits.test!.map((z) => Float32Array.from(crossEntropies(z, labels, classes))),
      calibratedLoss: temperatures
        ? logits.test!.map((z, s) => Float32Array.from(crossEntropies(z, labels, classes, temperatures![s])))
        : undefined,
      correct: logits.test!.map((z) => correctness(z, labels, classes)),
    };
  }
  return record;
}

/** One optimizer over the model's variables, with the step and evaluation hooks the loop needs. */
interface Stepper {
  /** Whether `step` needs each seed's loss at the current weights. */
  readonly needsLoss: boolean;
  /** One step; `losses[s]` is seed s's loss at the current weights when `needsLoss`. */
  step(grads: tf.NamedTensorMap, t: number, losses?: ArrayLike<number>): void;
  /** Runs `fn` with the weights at the evaluation point. */
  atEvalPoint<R>(fn: () => R): R;
  dispose(): void;
}

/** Writes typed-array values into tfjs variables of the same sizes, in order. */
function assignAll(variables: readonly tf.Variable[], values: readonly Float32Array[]): void {
  tf.tidy(() => {
    variables.forEach((v, i) => {
      v.assign(tf.tensor(values[i], v.shape, 'float32'));
    });
  });
}

/**
 * ScheduleFree+ over every seed's weights: each seed's optimizer steps typed-array copies of its
 * weights (they hold y while training) with its gradients and its own loss, then the copies are
 * written back to the tfjs variables. x is written in for evaluation and y restored after it, from
 * the copies, so evaluating changes nothing. A seed whose loss overflows has diverged (the
 * optimizer refuses a non-finite loss): its weights become NaN, so it scores NaN like a diverged
 * AdamW run, and it takes no further steps.
 */
function scheduleFreePlusStepper(
  spec: Extract<TfOptimizerSpec, { kind: 'schedule-free-plus' }>,
  model: Layer[][],
): Stepper {
  const seeds = model.map((layers) => {
    const variables = layers.flatMap((l) => [l.w, l.b]);
    const values = variables.map((v) => Float32Array.from(v.dataSync()));
    const params = Object.fromEntries(variables.map((v, i) => [v.name, values[i]]));
    const opt = new AdamCScheduleFreePlusPaper(params, { lr: spec.lr, weightDecay: spec.weightDecay });
    opt.train();
    return { variables, values, opt, diverged: false };
  });
  return {
    needsLoss: true,
    step(grads, _t, losses) {
      if (!losses || losses.length !== seeds.length) {
        throw new Error(`schedule-free-plus: expected ${seeds.length} seed losses, got ${losses?.length}`);
      }
      seeds.forEach((seed, s) => {
        const { variables, values, opt } = seed;
        if (seed.diverged) return;
        if (!Number.isFinite(losses[s])) {
          seed.diverged = true;
          for (const v of values) v.fill(Number.NaN);
          assignAll(variables, values);
          return;
        }
        const g = Object.fromEntries(
          variables.map((v) => [v.name, grads[v.name].dataSync() as Float32Array]),
        );
        opt.step(g, { loss: losses[s] });
        assignAll(variables, values);
      });
    },
    atEvalPoint(fn) {
      for (const { variables, opt, diverged } of seeds) {
        if (diverged) continue; // NaN at y and at x alike
        const x = opt.evalParams();
        assignAll(
          variables,
          variables.map((v) => x[v.name] as Float32Array),
        );
      }
      try {
        return fn();
      } finally {
        for (const { variables, values } of seeds) assignAll(variables, values);
      }
    },
    dispose: () => {
      for (const { opt } of seeds) opt.dispose();
    },
  };
}

function makeStepper(spec: TfOptimizerSpec, model: Layer[][]): Stepper {
  const variables = model.flatMap((layers) => layers.flatMap((l) => [l.w, l.b]));
  if (spec.kind === 'schedule-free-plus') return scheduleFreePlusStepper(spec, model);
  if (spec.kind === 'schedule-free') {
    const opt = new AdamWScheduleFree({
      lr: spec.lr,
      betas: spec.betas,
      warmupSteps: spec.warmupSteps,
      weightDecay: spec.weightDecay,
    });
    opt.attach(variables).train();
    return {
      needsLoss: false,
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
    needsLoss: false,
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
 * Trains one configuration for all seeds and returns the metrics the plan asks for, at the epochs
 * it lists. Seed s draws its own initialisation and batch order (the same for every optimizer,
 * learning rate and weight decay), so runs of different methods are paired by seed.
 */
export function trainMlp(
  data: TensorData,
  config: MlpConfig,
  spec: TfOptimizerSpec,
  plan: EvaluationPlan,
  onEpoch?: () => void,
): EpochRecord[] {
  const { seeds, batchSize, epochs } = config;
  const n = data.train.x.shape[0];
  const model = initModel(config);
  const variables = model.flatMap((layers) => layers.flatMap((l) => [l.w, l.b]));
  const stepper = makeStepper(spec, model);
  const rngs = Array.from({ length: seeds }, (_, s) => new Rng(deriveSeed(s, 'mlp-order')));
  const records: EpochRecord[] = [];
  let t = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const orders = rngs.map((rng) => rng.permutation(n));
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(start + batchSize, n);
        const kept: { seedLosses?: tf.Tensor } = {};
        const { grads, value } = tf.tidy(() => {
          const batches = orders.map((order) => {
            const idx = tf.tensor1d(order.subarray(start, end), 'int32');
            return { x: tf.gather(data.train.x, idx), y: tf.gather(data.train.y, idx) };
          });
          // The sum of the seeds' objectives: each seed's weights get exactly their own gradient.
          return tf.variableGrads(() => {
            const terms = model.map((layers, s) => {
              const ce = crossEntropy(layers, batches[s].x, batches[s].y);
              return config.l2 ? tf.add(ce, l2Term(layers, config.l2)) : ce;
            });
            // Each seed's own objective, kept past the gradient's scope, for a stepper that needs it.
            if (stepper.needsLoss) kept.seedLosses = tf.keep(tf.stack(terms));
            return tf.addN(terms) as tf.Scalar;
          }, variables);
        });
        value.dispose();
        try {
          const losses = kept.seedLosses ? Array.from(kept.seedLosses.dataSync()) : undefined;
          stepper.step(grads, t++, losses);
        } finally {
          tf.dispose(grads);
          kept.seedLosses?.dispose();
        }
      }
      if (plan.epochs.includes(epoch)) {
        records.push(stepper.atEvalPoint(() => evaluate(model, data, config, plan, epoch)));
      }
      onEpoch?.();
    }
  } finally {
    stepper.dispose();
    tf.dispose(variables);
  }
  return records;
}
