/**
 * TensorFlow.js: the model, its gradients (`tf.variableGrads`) and the update all run in tfjs, on
 * the chosen backend. Schedule-Free runs use `@schedulefree/tfjs`; the scheduled baseline is tfjs's
 * own Adam with decoupled weight decay (as PyTorch's AdamW applies it) and the lr set every step.
 */
import { AdamWScheduleFree, SGDScheduleFree } from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import plainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { BatchSampler } from '../batches';
import { scheduleOf } from '../optimizers';
import { BackendUnavailable, type RunDriver, type RunSetup } from '../run-types';
import type { Params, Task } from '../tasks';

export type TfjsBackendName = 'webgl' | 'webgpu' | 'wasm' | 'cpu';

let wasmPathsSet = false;

/** Makes `name` tfjs's backend, registering the optional backends on first use. */
async function selectBackend(name: TfjsBackendName): Promise<void> {
  if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!wasmPathsSet) {
      // The .wasm binaries are files of this site (no CDN).
      wasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': plainUrl,
        'tfjs-backend-wasm-simd.wasm': simdUrl,
        'tfjs-backend-wasm-threaded-simd.wasm': threadedSimdUrl,
      });
      wasmPathsSet = true;
    }
  }
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new BackendUnavailable(`tfjs could not start its ${name} backend in this browser.`);
  }
  await tf.ready();
}

let runs = 0;

type Variables = Record<string, tf.Variable>;
type Loss = (vars: Variables, x: tf.Tensor2D | undefined, y: tf.Tensor | undefined) => tf.Scalar;

/** The task's loss written with tfjs ops, the same function the host code differentiates by hand. */
function lossOf(task: Task): Loss {
  switch (task.id) {
    case 'mlp':
      return (v, x, y) =>
        tf.tidy(() => {
          const hidden = tf.relu(tf.add(tf.matMul(x!, v.w1), v.b1));
          const logits = tf.add(tf.matMul(hidden, v.w2), v.b2);
          return tf.neg(tf.mean(tf.sum(tf.mul(y!, tf.logSoftmax(logits)), 1))) as tf.Scalar;
        });
    case 'logistic':
      return (v, x, y) =>
        tf.tidy(() => {
          const z = tf.add(tf.squeeze(tf.matMul(x!, tf.reshape(v.w, [-1, 1])), [1]), v.b);
          return tf.mean(tf.sub(tf.softplus(z), tf.mul(y!, z))) as tf.Scalar;
        });
    case 'rosenbrock':
      return (v) =>
        tf.tidy(() => {
          const [u, w] = tf.unstack(v.uv);
          return tf.add(
            tf.square(tf.sub(1, u)),
            tf.mul(100, tf.square(tf.sub(w, tf.square(u)))),
          ) as tf.Scalar;
        });
  }
}

/** One step and the evaluation point of one optimizer over the run's variables. */
interface Stepper {
  /** `loss` is the mini-batch's loss at the parameters, for optimizers whose step needs it. */
  step(grads: tf.NamedTensorMap, t: number, loss: tf.Scalar): Promise<void>;
  /** Runs `fn` with the variables at the evaluation point (x for Schedule-Free). */
  atEvalPoint<R>(fn: () => R): R;
  dispose(): void;
}

function stepperFor(setup: RunSetup, vars: tf.Variable[]): Stepper {
  const { kind, hp } = setup;
  if (kind.family === 'sf-adamw' || kind.family === 'sf-sgd') {
    const options = { lr: hp.lr, weightDecay: hp.weightDecay, warmupSteps: hp.warmupSteps };
    const opt =
      kind.family === 'sf-adamw'
        ? new AdamWScheduleFree({ ...options, betas: [hp.beta, 0.999] })
        : new SGDScheduleFree({ ...options, momentum: hp.beta });
    opt.attach(vars).train();
    return {
      // Checked for NaN/Infinity with an asynchronous read, which every tfjs backend supports.
      step: (grads) => opt.applyGradientsAsync(grads),
      atEvalPoint: (fn) => opt.withEvalParams(fn),
      dispose: () => opt.dispose(),
    };
  }
  if (kind.family !== 'adamw') throw new BackendUnavailable(`${kind.label} is not available on tfjs.`);
  const schedule = scheduleOf(kind, hp);
  const adam = tf.train.adam(hp.lr, hp.beta, 0.999, 1e-8);
  // tfjs reads this field at every step; it is only typed protected.
  const settable = adam as unknown as { learningRate: number };
  return {
    async step(grads, t) {
      const lr = schedule(t);
      settable.learningRate = lr;
      if (hp.weightDecay !== 0) {
        tf.tidy(() => {
          for (const v of vars) v.assign(tf.mul(v, 1 - lr * hp.weightDecay));
        });
      }
      // tfjs finds variables by name; its typings ask for variables where gradients are given.
      adam.applyGradients(grads as unknown as Parameters<typeof adam.applyGradients>[0]);
    },
    atEvalPoint: (fn) => fn(),
    dispose: () => adam.dispose(),
  };
}

export async function createDriver(setup: RunSetup, backend: TfjsBackendName): Promise<RunDriver> {
  await selectBackend(backend);
  const { task, data, hp } = setup;
  const run = runs++;
  const initial: Params = task.init(hp.seed, data);
  const shapes = task.shapes(data);
  const vars: Variables = Object.fromEntries(
    Object.entries(initial).map(([name, values]) => [
      name,
      tf.variable(tf.tensor(values, shapes[name]), true, `playground${run}_${name}`),
    ]),
  );
  const list = Object.values(vars);
  const loss = lossOf(task);
  // The data live on the backend for the whole run; batches are gathered there.
  const xTrain = data ? tf.tensor2d(data.train.features, [data.train.rows, data.dims]) : undefined;
  const yTrain = data
    ? data.classes > 2
      ? tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), data.classes).toFloat()
      : tf.tensor1d(Float32Array.from(data.train.labels))
    : undefined;
  const batches = new BatchSampler(data, hp.batchSize, hp.seed);
  const stepper = stepperFor(setup, list);
  const read = async (t: tf.Tensor) => {
    const values = (await t.data()) as Float32Array;
    t.dispose();
    return values;
  };

  return {
    async step(t) {
      const rows = batches.next();
      const { value, grads } = tf.tidy(() => {
        const index = rows ? tf.tensor1d(rows, 'int32') : undefined;
        const x = index && xTrain ? (tf.gather(xTrain, index) as tf.Tensor2D) : undefined;
        const y = index && yTrain ? tf.gather(yTrain, index) : undefined;
        return tf.variableGrads(() => loss(vars, x, y), list);
      });
      try {
        await stepper.step(grads, t, value);
      } finally {
        tf.dispose([value, ...Object.values(grads)]);
      }
    },
    async evalLoss() {
      return (await read(stepper.atEvalPoint(() => loss(vars, xTrain, yTrain))))[0];
    },
    async iterates() {
      const y = await read(tf.clone(list[0]));
      const x = await read(stepper.atEvalPoint(() => tf.clone(list[0])));
      return { y, x };
    },
    async testAccuracy() {
      if (!data || task.id === 'rosenbrock') return undefined;
      const values = stepper.atEvalPoint(() =>
        Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, v.clone()])),
      );
      const params: Params = {};
      for (const [name, t] of Object.entries(values)) params[name] = await read(t);
      return task.testAccuracy?.(params, data);
    },
    async dispose() {
      stepper.dispose();
      tf.dispose([...list, ...(xTrain ? [xTrain] : []), ...(yTrain ? [yTrain] : [])]);
    },
  };
}
