import * as core from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleFreeError, ScheduleFreeWrapper, scheduleFreeWrapper } from './index.js';
import { maxRelDiff, quadratic, sameBits } from './test-support/problem.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const bases: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.1),
  momentum: () => tf.train.momentum(0.05, 0.5),
  adam: () => tf.train.adam(0.05, 0, 0.999, 1e-8),
  adamax: () => tf.train.adamax(0.05, 0, 0.999, 1e-8),
  rmsprop: () => tf.train.rmsprop(0.02, 0.9, 0, 1e-8),
  adagrad: () => tf.train.adagrad(0.1),
  adadelta: () => tf.train.adadelta(1, 0.9, 1e-6),
};

function stateZ(opt: ScheduleFreeWrapper, names: string[]): Record<string, Float64Array> {
  const { state } = opt.stateDict();
  return Object.fromEntries(names.map((n) => [n, Float64Array.from(state[n].z)]));
}

describe('ScheduleFreeWrapper around tf optimizers', () => {
  for (const [label, make] of Object.entries(bases)) {
    it(`${label}: z follows the bare base step for step (bit for bit); x is the lr_max-weighted average of z`, async () => {
      const q = quadratic(11);
      const twin = quadratic(11); // the bare base runs on these, with the gradients the wrapper saw
      cleanups.push(q.dispose, twin.dispose);
      const beta = 0.8;
      const opt = new ScheduleFreeWrapper(make(), { momentum: beta, r: 0.5 }).train();
      const bare = make();
      cleanups.push(
        () => opt.dispose(),
        () => bare.dispose(),
      );
      let counters = { ...core.initialCounters };
      const x = { w: Float64Array.from(q.init.w), b: Float64Array.from(q.init.b) };
      for (let step = 0; step < 6; step++) {
        const grads = q.grads(); // at y
        opt.applyGradients(grads);
        bare.applyGradients([
          { name: twin.w.name, tensor: grads[q.w.name] },
          { name: twin.b.name, tensor: grads[q.b.name] },
        ]);
        tf.dispose(Object.values(grads));
        const z = stateZ(opt, [q.w.name, q.b.name]);
        expect(sameBits({ w: z[q.w.name], b: z[q.b.name] }, twin.read())).toBe(true);
        const next = core.advanceSchedule(counters, opt.learningRate, 0.5, 2);
        counters = next.counters;
        for (const k of ['w', 'b'] as const) {
          const zk = k === 'w' ? z[q.w.name] : z[q.b.name];
          x[k] = x[k].map((v, i) => v + next.c * (zk[i] - v));
        }
        const got = opt.evalParams();
        expect(maxRelDiff({ w: got[q.w.name].dataSync(), b: got[q.b.name].dataSync() }, x)).toBeLessThan(
          1e-5,
        );
        tf.dispose(Object.values(got));
      }
      expect(opt.groupState()).toEqual(counters);
    });
  }

  it('around tf.train.sgd equals SGDScheduleFree, weightDecayAtY included', () => {
    const q = quadratic(12);
    cleanups.push(q.dispose);
    const opt = scheduleFreeWrapper(tf.train.sgd(0.3), { momentum: 0.9, weightDecayAtY: 0.1 }).train();
    cleanups.push(() => opt.dispose());
    const params = { w: Float64Array.from(q.init.w), b: Float64Array.from(q.init.b) };
    const ref = new core.SGDScheduleFree(params, { lr: 0.3, momentum: 0.9, weightDecay: 0.1 }).train();
    for (let i = 0; i < 8; i++) {
      opt.minimize(q.loss);
      ref.step({
        w: params.w.map((v, j) => q.a.w[j] * (v - q.target.w[j])),
        b: params.b.map((v, j) => q.a.b[j] * (v - q.target.b[j])),
      });
    }
    expect(maxRelDiff(q.read(), params)).toBeLessThan(2e-5);
  });

  it('minimize in eval mode takes the same steps and leaves x in the variables', () => {
    const [a, b] = [quadratic(13), quadratic(13)];
    cleanups.push(a.dispose, b.dispose);
    const evalMode = new ScheduleFreeWrapper(tf.train.adam(0.05, 0, 0.999, 1e-8));
    const trainMode = new ScheduleFreeWrapper(tf.train.adam(0.05, 0, 0.999, 1e-8)).train();
    cleanups.push(
      () => evalMode.dispose(),
      () => trainMode.dispose(),
    );
    for (let i = 0; i < 5; i++) {
      evalMode.minimize(a.loss);
      trainMode.minimize(b.loss);
      const x = trainMode.evalParams();
      expect(maxRelDiff(a.read(), { w: x[b.w.name].dataSync(), b: x[b.b.name].dataSync() })).toBeLessThan(
        1e-5,
      );
      tf.dispose(Object.values(x));
    }
    expect(evalMode.mode).toBe('eval');
  });

  it('says which base cannot save its state (tfjs Adamax has no getWeights)', async () => {
    const q = quadratic(15);
    cleanups.push(q.dispose);
    const opt = new ScheduleFreeWrapper(tf.train.adamax(0.01, 0));
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss);
    await expect(opt.getWeights()).rejects.toThrow(/Adamax cannot save its state/);
  });

  it('reads the base learning rate after each step; setLearningRate sets the base', () => {
    const q = quadratic(14);
    cleanups.push(q.dispose);
    const opt = new ScheduleFreeWrapper(tf.train.adam(0.1, 0, 0.999)).train();
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss);
    opt.setLearningRate(0.4);
    expect(opt.learningRate).toBe(0.4);
    expect(opt.base.getConfig().learningRate).toBe(0.4);
    opt.minimize(q.loss);
    expect(opt.groupState()).toMatchObject({ k: 2, lrMax: 0.4, scheduledLr: 0.4 });
  });

  it('un-awaited asynchronous steps use the base learning rate set before each call, bit for bit', async () => {
    const run = async (how: 'awaited' | 'unawaited' | 'last-lr') => {
      const q = quadratic(16);
      const opt = new ScheduleFreeWrapper(tf.train.adam(0.1, 0, 0.999), { weightDecayAtY: 0.01 }).train();
      const grads = [0, 1, 2].map(() => q.grads());
      const lrs = [0.1, 0.02, 0.3];
      if (how === 'awaited') {
        for (const [i, lr] of lrs.entries()) {
          opt.setLearningRate(lr);
          await opt.applyGradientsAsync(grads[i]);
        }
      } else {
        const calls = lrs.map((lr, i) => {
          opt.setLearningRate(how === 'last-lr' ? 0.3 : lr);
          return opt.applyGradientsAsync(grads[i]);
        });
        await Promise.all(calls);
      }
      const result = { values: q.read(), counters: opt.groupState(), lr: opt.learningRate };
      opt.dispose();
      tf.dispose(grads.flatMap(Object.values));
      q.dispose();
      return result;
    };
    const awaited = await run('awaited');
    expect(awaited.lr).toBe(0.3);
    expect(await run('unawaited')).toEqual(awaited);
    expect((await run('last-lr')).values).not.toEqual(awaited.values);
  });

  it('rejects a non-optimizer base, unsupported options and invalid momentum by name', () => {
    const fail = (fn: () => unknown, pattern: RegExp) => {
      expect(fn).toThrow(ScheduleFreeError);
      expect(fn).toThrow(pattern);
    };
    fail(() => new ScheduleFreeWrapper({} as tf.Optimizer), /tf\.Optimizer/);
    fail(() => new ScheduleFreeWrapper(new ScheduleFreeWrapper(tf.train.sgd(1)) as never), /tf\.Optimizer/);
    fail(() => new ScheduleFreeWrapper(tf.train.sgd(1), { paramGroups: [] } as never), /paramGroups/);
    fail(() => new ScheduleFreeWrapper(tf.train.sgd(1), { momentum: 1 }), /"momentum"/);
  });

  it('saves its state and the base optimizer’s with the model, and resumes bit for bit', async () => {
    const make = () => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({
            units: 6,
            inputShape: [3],
            activation: 'tanh',
            kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
          }),
          tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
      model.compile({
        optimizer: new ScheduleFreeWrapper(tf.train.adam(0.02, 0, 0.99), { momentum: 0.9 }),
        loss: 'meanSquaredError',
      });
      return model;
    };
    const xs = tf.tensor2d(
      Array.from({ length: 60 }, (_, i) => Math.sin(i)),
      [20, 3],
    );
    const ys = tf.tensor2d(
      Array.from({ length: 20 }, (_, i) => Math.cos(i)),
      [20, 1],
    );
    const options = { epochs: 2, batchSize: 5, shuffle: false, verbose: 0 } as const;
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
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    const opt = loaded.optimizer as ScheduleFreeWrapper;
    expect(opt).toBeInstanceOf(ScheduleFreeWrapper);
    expect(opt.base.getClassName()).toBe('Adam');
    expect(opt.base.getConfig()).toEqual((original.optimizer as ScheduleFreeWrapper).base.getConfig());
    await loaded.fit(xs, ys, options);
    const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(loaded)).toEqual(weights(original));
    tf.dispose([xs, ys]);
    original.dispose();
    loaded.dispose();
  });
});
