import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tfjsReplayBackend } from './conformance.js';
import { AdamWScheduleFree, ScheduleFreeWrapper } from './index.js';
import { fusedKernelKind } from './kernels/fused.js';
import { defineTfjsConformance } from './test-support/conformance-suite.js';
import { checkFusedKernels } from './test-support/kernel-cases.js';

// GPU backends in headless Chromium: WebGL on SwiftShader always; WebGPU when
// @tensorflow/tfjs-backend-webgpu is installed and the browser offers an adapter.
const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
async function webgpuAvailable(): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ WEBGPU_PACKAGE);
    return await tf.setBackend('webgpu');
  } catch {
    return false;
  }
}

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
  const original = make();
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
  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  expect(weights(loaded)).toEqual(weights(original));
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
});

defineTfjsConformance(tfjsReplayBackend('webgl'), 9, 3);
defineTfjsConformance(tfjsReplayBackend('webgl', { name: 'tfjs-webgl-ops', kernels: 'ops' }), 9, 3);

describe('tfjs in the browser: webgpu', () => {
  it('fit, save, load, continue bit for bit (skipped without the webgpu backend package)', async (context) => {
    if (!(await webgpuAvailable())) {
      context.skip(`${WEBGPU_PACKAGE} is not installed or no WebGPU adapter`);
      return;
    }
    await fitSaveLoadContinue('webgpu');
  });
});
