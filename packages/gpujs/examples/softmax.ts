/**
 * Softmax regression trained with AdamWScheduleFree, every tensor computation a gpu.js kernel.
 * The same code runs in every gpu.js mode: textures stay on the GPU in webgl2/webgl, WebGPU
 * buffers in webgpu (where kernels return promises, hence the `await`s), and Float32Arrays in
 * webasm/cpu. This file is the example of docs/gpujs.md; the tests run it in Node and Chromium.
 */
import { AdamWScheduleFree, type GpuJsGrads, type GpuJsTensor } from '@schedulefree/gpujs';
import { type GPU, Input } from 'gpu.js';

/** A kernel function as gpu.js returns it (types kept loose: results differ by mode). */
type Kernel = (...args: unknown[]) => unknown;
type KernelThis = { thread: { x: number; y: number }; constants: { K: number; D: number; N: number } };

/** gpu.js's `input(values, size)`: flat data with a shape [x, y] (x varies fastest). */
const input = (values: Float32Array, size: [number, number]) =>
  new Input(values as unknown as number[], size);

/** Three Gaussian blobs in the plane: features X (shape [D, N]) and one-hot labels Y (shape [K, N]). */
export function blobs(N = 240, seed = 7) {
  const D = 2;
  const K = 3;
  const centers = [
    [-1, -1],
    [1.5, 0],
    [0, 1.5],
  ];
  let s = seed;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const X = new Float32Array(D * N);
  const Y = new Float32Array(K * N);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const k = n % K;
    labels[n] = k;
    X[n * D] = centers[k][0] + 0.5 * normal();
    X[n * D + 1] = centers[k][1] + 0.5 * normal();
    Y[n * K + k] = 1;
  }
  return { X, Y, labels, N, D, K };
}

/** Trains the model; returns the loss before and after, and the accuracy at x (the averaged weights). */
export async function trainSoftmax(gpu: GPU, steps = 150) {
  const { X, Y, labels, N, D, K } = blobs();
  const constants = { N, D, K };
  const settings = (output: number[], pipeline = true) => ({
    output,
    constants,
    pipeline,
    precision: 'single' as const,
  });

  // P[n][k]: softmax over the classes of the logits W[k]·X[n] + b[k].
  const probabilities = gpu.createKernel(
    function (this: KernelThis, W: number[][], b: number[], X: number[][]) {
      const n = this.thread.y;
      let max = -1e30;
      for (let j = 0; j < this.constants.K; j++) {
        let z = b[j];
        for (let d = 0; d < this.constants.D; d++) z += W[j][d] * X[n][d];
        max = Math.max(max, z);
      }
      let sum = 0;
      let mine = 0;
      for (let j = 0; j < this.constants.K; j++) {
        let z = b[j];
        for (let d = 0; d < this.constants.D; d++) z += W[j][d] * X[n][d];
        const e = Math.exp(z - max);
        sum += e;
        if (j === this.thread.x) mine = e;
      }
      return mine / sum;
    },
    settings([K, N]),
  ) as unknown as Kernel;
  // Gradients of the mean cross-entropy: dW[k][d] = mean_n (P − Y)[n][k]·X[n][d], db[k] = mean_n (P − Y)[n][k].
  const gradW = gpu.createKernel(
    function (this: KernelThis, P: number[][], Y: number[][], X: number[][]) {
      let s = 0;
      for (let n = 0; n < this.constants.N; n++)
        s += (P[n][this.thread.y] - Y[n][this.thread.y]) * X[n][this.thread.x];
      return s / this.constants.N;
    },
    settings([D, K]),
  ) as unknown as Kernel;
  const gradB = gpu.createKernel(
    function (this: KernelThis, P: number[][], Y: number[][]) {
      let s = 0;
      for (let n = 0; n < this.constants.N; n++) s += P[n][this.thread.x] - Y[n][this.thread.x];
      return s / this.constants.N;
    },
    settings([K]),
  ) as unknown as Kernel;
  // Per-sample cross-entropy, read back (pipeline off) only to report progress.
  const crossEntropy = gpu.createKernel(
    function (this: KernelThis, P: number[][], Y: number[][]) {
      let s = 0;
      for (let k = 0; k < this.constants.K; k++)
        s -= Y[this.thread.x][k] * Math.log(P[this.thread.x][k] + 1e-12);
      return s;
    },
    settings([N], false),
  ) as unknown as Kernel;

  const x = input(X, [D, N]);
  const y = input(Y, [K, N]);
  const opt = new AdamWScheduleFree(
    gpu,
    { W: input(new Float32Array(D * K), [D, K]), b: new Float32Array(K) },
    { lr: 0.05, warmupSteps: 10, weightDecay: 1e-4 },
  );
  const meanLoss = async () => {
    const P = await probabilities(opt.params.W, opt.params.b, x);
    const losses = (await crossEntropy(P, y)) as Float32Array;
    return losses.reduce((a, v) => a + v, 0) / N;
  };

  // Every call that touches GPU memory returns a promise: in webgpu mode the work completes later,
  // in the other modes it is done already and `await` costs nothing.
  await opt.train(); // parameters hold y, where gradients are taken
  const initialLoss = await meanLoss();
  for (let step = 0; step < steps; step++) {
    const P = await probabilities(opt.params.W, opt.params.b, x);
    const grads: GpuJsGrads = {
      W: (await gradW(P, y, x)) as GpuJsTensor,
      b: (await gradB(P, y)) as GpuJsTensor,
    };
    await opt.step(grads);
  }
  await opt.eval(); // parameters now hold x, the Schedule-Free average
  const finalLoss = await meanLoss();
  const P = (await probabilities(opt.params.W, opt.params.b, x)) as { toArray?: () => unknown };
  const rows = (P.toArray ? await P.toArray() : P) as Float32Array[];
  const correct = rows.filter((p, n) => p.indexOf(Math.max(...p)) === labels[n]).length;
  const modes = [...opt.kernelModes];
  opt.dispose();
  return { initialLoss, finalLoss, accuracy: correct / N, modes };
}
