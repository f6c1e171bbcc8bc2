import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { tfjsReplayBackend } from './conformance.js';
import { FiniteChecks, resetUncheckedWarning } from './finite.js';
import { AdamWScheduleFree, ScheduleFreeError, ScheduleFreeWrapper, SGDScheduleFree } from './index.js';
import { fusedKernelKind } from './kernels/fused.js';
import { webgpuFiniteMask } from './kernels/webgpu.js';
import { expectCheckedAsyncSteps } from './test-support/async-steps.js';
import {
  expectCallsBeforeDisposeComplete,
  expectCallsWaitForPendingClosureStep,
  expectClosureOptionsChecked,
  expectGradientsCapturedAtCall,
  expectUnawaitedStepsInOrder,
} from './test-support/call-order.js';
import { defineTfjsConformance } from './test-support/conformance-suite.js';
import { checkFusedKernels } from './test-support/kernel-cases.js';

// GPU backends in headless Chromium (started with --enable-unsafe-webgpu): WebGL and WebGPU both run
// on SwiftShader there, so these tests check correctness, not speed.
import '@tensorflow/tfjs-backend-webgpu';

/** Values read back asynchronously (the only read that is exact on every backend). */
const values = async (t: tf.Tensor) => Array.from((await t.data()) as Float32Array);

async function fitSaveLoadContinue(backend: string) {
  await tf.setBackend(backend);
  const make = () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          units: 5,
          inputShape: [3],
          activation: 'tanh',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
        }),
        tf.layers.dense({
          units: 2,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
        }),
      ],
    });
    model.compile({
      optimizer: new AdamWScheduleFree({ lr: 0.02, warmupSteps: 3 }),
      loss: 'categoricalCrossentropy',
    });
    return model;
  };
  const xs = tf.tensor2d(
    Array.from({ length: 48 }, (_, i) => Math.sin(1.3 * i)),
    [16, 3],
  );
  const ys = tf
    .oneHot(
      tf.tensor1d(
        Array.from({ length: 16 }, (_, i) => i % 2),
        'int32',
      ),
      2,
    )
    .toFloat();
  const options = { epochs: 2, batchSize: 4, shuffle: false, validationSplit: 0.25, verbose: 0 } as const;
  const weights = (m: tf.LayersModel) => Promise.all(m.getWeights().map(values));
  const original = make();
  const initial = await weights(original);
  await original.fit(xs, ys, options);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await original.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  await original.fit(xs, ys, options);
  const start = tf.memory().numTensors;
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  await loaded.fit(xs, ys, options);
  const [got, want] = [await weights(loaded), await weights(original)];
  expect(want.flat().every(Number.isFinite)).toBe(true);
  expect(want[0]).not.toEqual(initial[0]); // trained
  expect(got).toEqual(want);
  // tfjs disposes only optimizers it created from a name: the loaded one is ours to dispose.
  const optimizer = loaded.optimizer;
  loaded.dispose();
  optimizer.dispose();
  expect(tf.memory().numTensors).toBe(start);
  original.optimizer.dispose();
  original.dispose();
  tf.dispose([xs, ys]);
}

describe('tfjs in the browser: webgl', () => {
  it('runs each update as fragment shaders (one per output) that match the IR interpreter', async () => {
    await tf.setBackend('webgl');
    expect(fusedKernelKind()).toBe('webgl');
    checkFusedKernels([1, 5, 300]);
  });

  it('fit, save with the optimizer, load, continue: bit for bit, no leaked tensors', async () => {
    await fitSaveLoadContinue('webgl');
  });

  it('the wrapper around tf.train.adam takes the same steps on webgl as on cpu', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const w = tf.variable(tf.tensor1d([1, -2, 3, 0.5, -0.25]));
      const opt = new ScheduleFreeWrapper(tf.train.adam(0.1, 0, 0.999), { weightDecayAtY: 0.01 });
      for (let i = 0; i < 10; i++)
        opt.minimize(() => tf.sum(tf.mul(tf.square(w), tf.range(1, 6))) as tf.Scalar);
      const x = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      return x;
    };
    const [cpu, webgl] = [await run('cpu'), await run('webgl')];
    expect(Math.abs(cpu[0] - 1)).toBeGreaterThan(0.1);
    webgl.forEach((v, i) => expect(v).toBeCloseTo(cpu[i], 4));
  });

  it('the asynchronous steps check with one asynchronous read and take the synchronous steps', async () => {
    await tf.setBackend('webgl');
    await expectCheckedAsyncSteps();
  });

  it('the asynchronous steps take effect in call order, as the engine promises every adapter', async () => {
    await tf.setBackend('webgl');
    await expectUnawaitedStepsInOrder();
    await expectGradientsCapturedAtCall();
    await expectCallsWaitForPendingClosureStep();
    await expectCallsBeforeDisposeComplete();
    await expectClosureOptionsChecked(true);
  });
});

// As every browser suite, these leave the bad-input matrix to Node (tfjs-cpu, tfjs-wasm).
defineTfjsConformance(tfjsReplayBackend('webgl'), 9, 3, false);
defineTfjsConformance(tfjsReplayBackend('webgl', { name: 'tfjs-webgl-ops', kernels: 'ops' }), 9, 3, false);

describe('tfjs in the browser: webgpu', () => {
  // Every read on webgpu must be asynchronous: tfjs-webgpu's synchronous read returns zeros here
  // (and keeps them as the tensor's values). Count every synchronous read the backend is asked for.
  let syncReads = 0;
  let restoreReadSync: (() => void) | null = null;
  beforeAll(async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
    const backend = tf.backend() as unknown as { readSync: (dataId: object) => unknown };
    const readSync = backend.readSync;
    backend.readSync = function (this: unknown, dataId: object) {
      syncReads++;
      return readSync.call(this, dataId);
    };
    restoreReadSync = () => {
      backend.readSync = readSync;
    };
  });
  afterEach(() => {
    expect(syncReads, 'synchronous GPU→CPU reads on webgpu').toBe(0);
  });
  afterAll(() => restoreReadSync?.());

  const use = async () => {
    await tf.setBackend('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
  };

  it('has a WebGPU adapter', async () => {
    await use();
    expect(fusedKernelKind()).toBe(null);
  });

  it('fit, save, load, continue bit for bit', async () => {
    await fitSaveLoadContinue('webgpu');
  });

  it('the finite mask tests bit patterns: NaN and ±Infinity anywhere, every finite value passes', async () => {
    await use();
    const checks = new FiniteChecks(true, () => 'test');
    for (const n of [1, 7, 1003, 70_000]) {
      const base = Float32Array.from({ length: n }, (_, i) =>
        i % 3 === 0 ? -3.4e38 : i % 3 === 1 ? 1e-45 : i,
      );
      base[0] = -0;
      const ok = tf.tensor1d(base);
      const mask = webgpuFiniteMask(ok)!;
      expect(mask).not.toBe(null);
      expect((await values(mask)).every((v) => v === 1)).toBe(true);
      mask.dispose();
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        for (const at of new Set([0, n >> 1, n - 1])) {
          const broken = base.slice();
          broken[at] = bad;
          const t = tf.tensor1d(broken);
          const m = webgpuFiniteMask(t)!;
          const flags = await values(m);
          expect(flags[at]).toBe(0);
          expect(flags.filter((v) => v === 0).length).toBe(1);
          // What an asynchronous step asks: both answered by one asynchronous read.
          const verdicts = await Promise.all([checks.allFinite(ok), checks.allFinite(t)]);
          expect(verdicts).toEqual([true, false]);
          tf.dispose([t, m]);
        }
      }
      ok.dispose();
    }
  });

  it('synchronous steps go unchecked and warn once; checkFinite: true makes them throw, changing nothing', async () => {
    await use();
    const w = tf.variable(tf.tensor1d([1, -2, 3]), true, `webgpu-sync-${Date.now()}`);
    const nan = () => ({ [w.name]: tf.tensor1d([0.5, Number.NaN, 1]) });
    const finite = () => ({ [w.name]: tf.tensor1d([0.5, -1, 1]) });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      resetUncheckedWarning();
      const strict = new SGDScheduleFree({ lr: 0.1, checkFinite: true }).train();
      let caught: unknown;
      try {
        strict.applyGradients(finite());
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ScheduleFreeError);
      expect((caught as ScheduleFreeError).code).toBe('UNSUPPORTED');
      expect((caught as Error).message).toMatch(/applyGradientsAsync/);
      expect(strict.groupState().k).toBe(0);
      expect(await values(w)).toEqual([1, -2, 3]);
      // Eval mode: the closure form has moved the variables to y when the check is refused; they are
      // put back at x exactly. (The first step is the checked asynchronous one.)
      const strictEval = new SGDScheduleFree({ lr: 0.1, checkFinite: true });
      const loss = () => tf.sum(tf.square(w)) as tf.Scalar;
      await strictEval.minimizeAsync(loss);
      await strictEval.minimizeAsync(loss);
      const x = await values(w);
      expect(() => strictEval.minimize(loss)).toThrow(/minimizeAsync/);
      expect(await values(w)).toEqual(x);
      expect(strictEval.groupState().k).toBe(2);
      strict.dispose();
      strictEval.dispose();

      const quiet = new SGDScheduleFree({ lr: 0.1, checkFinite: false }).train();
      quiet.applyGradients(finite());
      expect(warn).not.toHaveBeenCalled();
      quiet.dispose();

      const unchecked = new SGDScheduleFree({ lr: 0.1 }).train();
      unchecked.applyGradients(finite());
      unchecked.applyGradients(nan());
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/webgpu.*NaN\/Infinity.*applyGradientsAsync/s);
      // Unchecked means unchecked: the NaN went into the state (as with tf.train.adam).
      expect((await values(w)).some(Number.isNaN)).toBe(true);
      expect(unchecked.groupState().k).toBe(2);
      unchecked.dispose();
    } finally {
      warn.mockRestore();
      w.dispose();
    }
  });

  it('the asynchronous steps check exactly: NaN/Infinity throw or skip with nothing changed, and finite steps equal the synchronous ones', async () => {
    await use();
    await expectCheckedAsyncSteps();
  });

  it('the asynchronous steps take effect in call order, as the engine promises every adapter', async () => {
    await use();
    await expectUnawaitedStepsInOrder();
    await expectGradientsCapturedAtCall();
    await expectCallsWaitForPendingClosureStep();
    await expectCallsBeforeDisposeComplete();
    await expectClosureOptionsChecked(false);
  });

  it('stateDict() refuses to read synchronously; stateDictAsync() round-trips through loadStateDict', async () => {
    await use();
    const w = tf.variable(tf.tensor1d([1, -2, 3, 4]), true, `webgpu-state-${Date.now()}`);
    const g = tf.tensor1d([0.5, -1, 0.25, 2]);
    const grad = () => ({ [w.name]: g });
    const opt = new AdamWScheduleFree({ lr: 0.1, warmupSteps: 3 }).train();
    for (let i = 0; i < 3; i++) await opt.applyGradientsAsync(grad());
    expect(() => opt.stateDict()).toThrow(/stateDictAsync/);
    const state = await opt.stateDictAsync();
    const y = await values(w);
    expect(state.state[w.name].z.length).toBe(4);
    expect(state.state[w.name].v.every((v) => v > 0)).toBe(true);
    await opt.applyGradientsAsync(grad());
    const afterOne = await values(w);
    // Back to the saved state (and y), then the same step again: the same values, bit for bit.
    opt.loadStateDict(JSON.parse(JSON.stringify(state)));
    w.assign(tf.tensor1d(y));
    expect((await opt.stateDictAsync()).state).toEqual(state.state);
    await opt.applyGradientsAsync(grad());
    expect(await values(w)).toEqual(afterOne);
    opt.dispose();
    tf.dispose([w, g]);
  });

  defineTfjsConformance(tfjsReplayBackend('webgpu'), 9, 3, false);
});
