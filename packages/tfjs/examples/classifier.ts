/**
 * Trains a small classifier on three interleaved spirals with `model.fit`, twice: with
 * Schedule-Free AdamW (no schedule at all), and with Adam under a hand-made linear-warmup + cosine
 * decay — the schedule one would otherwise have to tune and whose length must be known in advance.
 *
 *   npx tsx packages/tfjs/examples/classifier.ts
 *
 * Uses the wasm backend when it is installed, else cpu.
 */

import { AdamWScheduleFree } from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';

const EPOCHS = 40;
const BATCH = 32;

/** Three spirals in the plane, 600 points, with a fixed seed. */
function spirals(n = 600) {
  let seed = 42;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const xs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    const t = random();
    const angle = 4 * t + (2 * Math.PI * label) / 3 + 0.25 * (random() - 0.5);
    xs.push(t * Math.cos(angle), t * Math.sin(angle));
    labels.push(label);
  }
  // Shuffle once so that validationSplit (the last 20%) holds every class.
  const order = Array.from({ length: n }, (_, i) => i).sort(() => random() - 0.5);
  return tf.tidy(() => ({
    x: tf.tensor2d(
      order.flatMap((i) => [xs[2 * i], xs[2 * i + 1]]),
      [n, 2],
    ),
    y: tf
      .oneHot(
        tf.tensor1d(
          order.map((i) => labels[i]),
          'int32',
        ),
        3,
      )
      .toFloat(),
  }));
}

function model(optimizer: tf.Optimizer) {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 64,
        inputShape: [2],
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 64,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: 2 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
  m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

async function main() {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
  } catch {
    await tf.setBackend('cpu');
  }
  console.log(`tfjs backend: ${tf.getBackend()}`);
  const { x, y } = spirals();
  const stepsPerEpoch = Math.ceil((x.shape[0] * 0.8) / BATCH);
  const totalSteps = EPOCHS * stepsPerEpoch;
  const fitArgs = { epochs: EPOCHS, batchSize: BATCH, validationSplit: 0.2, verbose: 0 } as const;

  // Schedule-Free AdamW: the variables hold x (the average) at rest, so fit's validation, evaluate,
  // predict and save all see x with no extra call. Its lr is typically 1-10x AdamW's.
  const sf = new AdamWScheduleFree({ lr: 0.01, warmupSteps: stepsPerEpoch });
  const sfModel = model(sf);
  const sfHistory = await sfModel.fit(x, y, fitArgs);

  // Adam with a warmup + cosine decay written by hand, updated before every batch.
  const peak = 0.005;
  const adam = tf.train.adam(peak);
  let step = 0;
  const schedule = new tf.CustomCallback({
    onBatchBegin: async () => {
      const warm = Math.min(1, (step + 1) / stepsPerEpoch);
      const lr = peak * warm * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
      (adam as unknown as { learningRate: number }).learningRate = lr;
      step++;
    },
  });
  const adamModel = model(adam);
  const adamHistory = await adamModel.fit(x, y, { ...fitArgs, callbacks: [schedule] });

  const epochs = [10, 20, 30, 40];
  console.log(
    `validation loss after epoch        ${epochs.map((e) => String(e).padStart(6)).join('')}   final accuracy`,
  );
  for (const [name, h] of [
    ['AdamWScheduleFree (no schedule)', sfHistory],
    ['Adam + warmup + cosine decay', adamHistory],
  ] as const) {
    const losses = epochs.map((e) => (h.history.val_loss[e - 1] as number).toFixed(3).padStart(6)).join('');
    console.log(`${name.padEnd(34)} ${losses}   ${(h.history.val_acc.at(-1) as number).toFixed(3)}`);
  }

  sf.dispose();
  adam.dispose();
  sfModel.dispose();
  adamModel.dispose();
  tf.dispose([x, y]);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
