import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdamWScheduleFree,
  recomputeBatchNormStatistics,
  ScheduleFreeCallback,
  ScheduleFreeError,
} from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A deterministic 3-class problem: 48 samples of 4 features. */
function data() {
  const n = 48;
  const xs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [Math.sin(i), Math.cos(1.7 * i), Math.sin(0.3 * i + 1), ((i * 7) % 11) / 11 - 0.5];
    xs.push(...row);
    labels.push((row[0] + row[1] > 0 ? 1 : 0) + (row[2] > 0.5 ? 1 : 0));
  }
  return tf.tidy(() => ({
    x: tf.tensor2d(xs, [n, 4]),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat(),
  }));
}

function classifier(units = 8, batchNorm = false) {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units,
        inputShape: [4],
        activation: batchNorm ? 'linear' : 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      ...(batchNorm ? [tf.layers.batchNormalization()] : []),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: new AdamWScheduleFree({ lr: 0.02, warmupSteps: 4, weightDecay: 0.01 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

const fitOptions = { epochs: 2, batchSize: 8, shuffle: false, validationSplit: 0.25, verbose: 0 } as const;

/** Saves model and optimizer to memory. */
async function saveToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return saved!;
}

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

describe('model.fit in eval mode (the default)', () => {
  it('validation, evaluate and predict see x: the weights at rest are x', async () => {
    const { x, y } = data();
    const model = classifier();
    const history = await model.fit(x, y, fitOptions);
    const opt = model.optimizer as AdamWScheduleFree;
    expect(opt.mode).toBe('eval');
    const xs = opt.evalParams();
    for (const w of model.trainableWeights)
      expect(w.read().dataSync()).toEqual(xs[(w.read() as tf.Variable).name].dataSync());
    tf.dispose(Object.values(xs));
    // fit validated on the last quarter; evaluating the same samples now gives the same loss.
    const [valX, valY] = [x.slice(36), y.slice(36)];
    const evaluated = (model.evaluate(valX, valY, { batchSize: 8 }) as tf.Scalar[])[0].dataSync()[0];
    expect(evaluated).toBeCloseTo(history.history.val_loss.at(-1) as number, 6);
    tf.dispose([x, y, valX, valY]);
    model.dispose();
  });

  for (const backend of ['cpu', 'wasm']) {
    it(`${backend}: saved with its optimizer and reloaded in the same process, continues bit for bit`, async () => {
      await tf.setBackend(backend);
      const { x, y } = data();
      const original = classifier();
      await original.fit(x, y, fitOptions);
      const artifacts = await saveToMemory(original);
      await original.fit(x, y, fitOptions);
      const uninterrupted = weightsOf(original);
      const state = (original.optimizer as AdamWScheduleFree).groupState();

      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      // tfjs renamed the loaded variables while the original is alive: state is matched by position.
      expect((loaded.trainableWeights[0].read() as tf.Variable).name).not.toBe(
        (original.trainableWeights[0].read() as tf.Variable).name,
      );
      expect(loaded.optimizer).toBeInstanceOf(AdamWScheduleFree);
      expect((loaded.optimizer as AdamWScheduleFree).getConfig()).toEqual(
        (original.optimizer as AdamWScheduleFree).getConfig(),
      );
      await loaded.fit(x, y, fitOptions);
      expect(weightsOf(loaded)).toEqual(uninterrupted);
      expect((loaded.optimizer as AdamWScheduleFree).groupState()).toEqual(state);
      tf.dispose([x, y]);
      original.dispose();
      loaded.dispose();
      await tf.setBackend('cpu');
    });
  }

  it('counters are saved exactly (float64), not rounded to float32', async () => {
    const { x, y } = data();
    const model = classifier();
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    const before = (model.optimizer as AdamWScheduleFree).groupState();
    expect(Math.fround(before.weightSum)).not.toBe(before.weightSum);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
    const opt = loaded.optimizer as AdamWScheduleFree;
    expect(opt.groupState()).toEqual(before);
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
  });

  it('state that does not fit the model is a clear error that changes nothing', async () => {
    const { x, y } = data();
    const model = classifier();
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    const artifacts = await saveToMemory(model);
    const specs = artifacts.weightSpecs!;
    const decoded = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, specs);
    const optimizerWeights = specs
      .filter((s) => s.group === 'optimizer')
      .map((s) => ({ name: s.name, tensor: decoded[s.name] }));
    const other = classifier(9);
    await other.optimizer.setWeights(optimizerWeights);
    const before = weightsOf(other);
    const error = await other.fit(x, y, { ...fitOptions, epochs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScheduleFreeError);
    expect((error as ScheduleFreeError).code).toBe('STATE_MISMATCH');
    expect((error as Error).message).toMatch(/shape \[4, 8\].*\[4, 9\]/);
    expect(weightsOf(other)).toEqual(before);
    // Loading state of another class is refused at once.
    const sgd = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
    const { SGDScheduleFree } = await import('./index.js');
    sgd.compile({ optimizer: new SGDScheduleFree(), loss: 'meanSquaredError' });
    await expect(sgd.optimizer.setWeights(optimizerWeights)).rejects.toThrow(/saved by AdamWScheduleFree/);
    tf.dispose([x, y, ...Object.values(decoded)]);
    for (const m of [model, other, sgd]) m.dispose();
  });

  it('repeated fit calls keep tf.memory().numTensors flat', async () => {
    const { x, y } = data();
    const model = classifier();
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    const start = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await model.fit(x, y, { ...fitOptions, epochs: 1 });
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('train mode with ScheduleFreeCallback', () => {
  it('fit runs at y and leaves x at the end; saved in train mode, the mode comes back too', async () => {
    const { x, y } = data();
    const model = classifier();
    const opt = model.optimizer as AdamWScheduleFree;
    const modes: string[] = [];
    await model.fit(x, y, {
      ...fitOptions,
      validationSplit: 0,
      callbacks: [
        new ScheduleFreeCallback(opt),
        new tf.CustomCallback({ onBatchEnd: async () => void modes.push(opt.mode) }),
      ],
    });
    expect(new Set(modes)).toEqual(new Set(['train']));
    expect(opt.mode).toBe('eval');
    opt.train();
    const artifacts = await saveToMemory(model);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    expect((loaded.optimizer as AdamWScheduleFree).mode).toBe('train');
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
  });
});

describe('recomputeBatchNormStatistics', () => {
  it('makes the moving statistics the average over batches at x, and restores y', async () => {
    const { x, y } = data();
    const model = classifier(8, true);
    const opt = model.optimizer as AdamWScheduleFree;
    await model.fit(x, y, {
      ...fitOptions,
      validationSplit: 0,
      callbacks: [new ScheduleFreeCallback(opt, { evalAtEpochEnd: false })],
    });
    opt.train();
    const y0 = weightsOf(model);
    const batches = [x.slice(0, 24), x.slice(24)];
    const used = await recomputeBatchNormStatistics(model, batches, { optimizer: opt });
    expect(used).toBe(2);
    const bn = model.layers[1] as unknown as { movingMean: tf.LayerVariable; momentum: number };
    expect(bn.momentum).toBe(0.99);
    // Expected: the mean of the dense layer's per-batch means, computed at x.
    const expected = opt.withEvalParams(() =>
      tf.tidy(() => {
        const means = batches.map((b) => tf.mean(model.layers[0].apply(b) as tf.Tensor, 0));
        return Array.from(tf.div(tf.add(means[0], means[1]), 2).dataSync());
      }),
    );
    const got = Array.from(bn.movingMean.read().dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    // Trainable weights hold y again (moving statistics are not trainable and keep their new values).
    const trainable = new Set(model.trainableWeights.map((w) => (w.read() as tf.Variable).name));
    model.weights.forEach((w, i) => {
      if (trainable.has((w.read() as tf.Variable).name))
        expect(Array.from(w.read().dataSync())).toEqual(y0[i]);
    });
    tf.dispose([x, y, ...batches]);
    model.dispose();
  });
});
