import * as core from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamCScheduleFreePlusPaper,
  AdamWScheduleFree,
  ScheduleFreeError,
  ScheduleFreeWrapper,
  SGDScheduleFree,
  train,
} from './index.js';
import { maxRelDiff, quadratic, sameBits } from './test-support/problem.js';

/**
 * Parity with the reference package's later additions: ScheduleFree+ (the loss each step, two
 * reductions), variables without a gradient (frozen), `addParamGroup`, and options that are not an
 * object.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(seed = 1) {
  const q = quadratic(seed);
  cleanups.push(q.dispose);
  return q;
}

function caught(fn: () => unknown): ScheduleFreeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected an error');
}

/** The float64 core ScheduleFree+ over the quadratic, with gradients and loss in float64. */
function referencePlus(q: ReturnType<typeof quadratic>, options: object) {
  const params = { w: Float64Array.from(q.init.w), b: Float64Array.from(q.init.b) };
  const opt = new core.AdamCScheduleFreePlusPaper(params, options);
  const step = () => {
    const g = {
      w: params.w.map((v, i) => q.a.w[i] * (v - q.target.w[i])),
      b: params.b.map((v, i) => q.a.b[i] * (v - q.target.b[i])),
    };
    let loss = 0;
    params.w.forEach((v, i) => {
      loss += 0.5 * q.a.w[i] * (v - q.target.w[i]) ** 2;
    });
    params.b.forEach((v, i) => {
      loss += 0.5 * q.a.b[i] * (v - q.target.b[i]) ** 2;
    });
    opt.step(g, { loss });
  };
  return { params, opt, step };
}

const plusOptions = { lr: 0.5, weightDecay: 20, polyakBeta: 0.5, sfBeta1AnnealSteps: 4 };

describe('ScheduleFree+ (AdamCScheduleFreePlusPaper)', () => {
  it('has the reference defaults and a factory', () => {
    const opt = train.adamcScheduleFreePlusPaper();
    cleanups.push(() => opt.dispose());
    expect(opt).toBeInstanceOf(AdamCScheduleFreePlusPaper);
    expect(opt.getClassName()).toBe('AdamCScheduleFreePlusPaper');
    expect(opt.options).toEqual({
      lr: 1,
      betas: [0.9, 0.95],
      sfBeta1: 0.9,
      eps: 1e-8,
      weightDecay: 0,
      r: 0,
      polyakBeta: 0,
      cWarmup: 0,
      sfBeta1AnnealSteps: 0,
      sfBeta1Max: 0.965,
      weightLrPower: 2,
    });
  });

  for (const mode of ['eval', 'train'] as const) {
    it(`minimize(f) uses f's value as the loss (${mode} mode) and follows the float64 core`, () => {
      const q = setup(3);
      const opt = new AdamCScheduleFreePlusPaper(plusOptions);
      cleanups.push(() => opt.dispose());
      const ref = referencePlus(q, plusOptions);
      // The reference steps at y in train mode; in eval mode the variables hold its x.
      ref.opt.train();
      if (mode === 'train') opt.train();
      for (let i = 0; i < 8; i++) {
        opt.minimize(q.loss, false, q.variables);
        ref.step();
      }
      expect(opt.groupState().k).toBe(8);
      expect(opt.groupState().gradL1Ema).toBeGreaterThan(0);
      const expected = mode === 'train' ? ref.params : ref.opt.evalParams();
      expect(maxRelDiff(q.read(), expected)).toBeLessThan(2e-5);
      expect(maxRelDiff(q.read(), { w: q.init.w, b: q.init.b })).toBeGreaterThan(1e-3);
    });
  }

  it('applyGradients needs { loss }: without one it is INVALID_LOSS and changes nothing', () => {
    const q = setup(4);
    const opt = new AdamCScheduleFreePlusPaper(plusOptions).train();
    cleanups.push(() => opt.dispose());
    const ref = referencePlus(q, plusOptions);
    ref.opt.train();
    const stepWith = (extras?: object) => {
      const grads = q.grads();
      try {
        opt.applyGradients(grads, extras as never);
      } finally {
        tf.dispose(Object.values(grads));
      }
    };
    stepWith({ loss: q.loss().dataSync()[0] });
    ref.step();
    const before = { ...q.read(), ...opt.groupState(), state: JSON.stringify(opt.stateDict()) };
    const state = () => ({ ...q.read(), ...opt.groupState(), state: JSON.stringify(opt.stateDict()) });
    for (const [extras, pattern] of [
      [undefined, /needs the loss.*applyGradients\(grads, \{ loss \}\).*minimize\(f\)/s],
      [{}, /Got none/],
      [{ loss: Number.NaN }, /Got NaN/],
      [{ loss: Number.POSITIVE_INFINITY }, /Got Infinity/],
      [{ loss: 'abc' }, /Got abc/],
      [3, /extras must be an object/],
    ] as const) {
      const error = caught(() => stepWith(extras as never));
      expect(error.code).toBe('INVALID_LOSS');
      expect(error.message).toMatch(pattern);
      expect(state()).toEqual(before);
    }
    // A scalar tensor (the value of tf.variableGrads) works as the loss too.
    const { value, grads } = tf.variableGrads(q.loss, q.variables);
    opt.applyGradients(grads, { loss: value });
    tf.dispose([value, grads]);
    ref.step();
    expect(maxRelDiff(q.read(), ref.params)).toBeLessThan(2e-5);
  });

  it('applyGradientsAsync takes { loss } too', async () => {
    const q = setup(5);
    const opt = new AdamCScheduleFreePlusPaper(plusOptions).train();
    cleanups.push(() => opt.dispose());
    const ref = referencePlus(q, plusOptions);
    ref.opt.train();
    for (let i = 0; i < 3; i++) {
      const grads = q.grads();
      await opt.applyGradientsAsync(grads, { loss: q.loss().dataSync()[0] });
      tf.dispose(Object.values(grads));
      ref.step();
    }
    await expect(opt.applyGradientsAsync(q.grads())).rejects.toMatchObject({ code: 'INVALID_LOSS' });
    expect(maxRelDiff(q.read(), ref.params)).toBeLessThan(2e-5);
  });

  it('other classes take no loss and read nothing back for it', () => {
    const q = setup(6);
    const opt = new AdamWScheduleFree({ lr: 0.1 }).train();
    cleanups.push(() => opt.dispose());
    const grads = q.grads();
    opt.applyGradients(grads, { loss: 1.5 });
    tf.dispose(Object.values(grads));
    expect(opt.groupState().k).toBe(1);
  });
});

/** A 3-class problem and a model of two dense layers compiled with ScheduleFree+. */
function plusModel() {
  const n = 32;
  const xs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [Math.sin(i), Math.cos(1.7 * i), Math.sin(0.3 * i + 1), ((i * 7) % 11) / 11 - 0.5];
    xs.push(...row);
    labels.push((row[0] + row[1] > 0 ? 1 : 0) + (row[2] > 0.5 ? 1 : 0));
  }
  const x = tf.tensor2d(xs, [n, 4]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat());
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 6,
        inputShape: [4],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: new AdamCScheduleFreePlusPaper({ lr: 0.5, weightDecay: 10, polyakBeta: 0.9 }),
    loss: 'categoricalCrossentropy',
  });
  cleanups.push(() => {
    (model.optimizer as AdamCScheduleFreePlusPaper).dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
  return { model, x, y };
}

const fitOptions = { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 } as const;

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

describe('ScheduleFree+ with model.fit', () => {
  for (const backend of ['cpu', 'wasm']) {
    it(`${backend}: fit trains with no extra code, saves with its optimizer and resumes bit for bit`, async () => {
      await import('@tensorflow/tfjs-backend-wasm');
      await tf.setBackend(backend);
      try {
        const { model, x, y } = plusModel();
        const first = await model.fit(x, y, fitOptions);
        const losses = first.history.loss as number[];
        expect(losses.at(-1)!).toBeLessThan(losses[0]);
        const artifacts = await saveToMemory(model);
        const tensors = tf.memory().numTensors;
        await model.fit(x, y, fitOptions);
        // Steps leave nothing behind.
        expect(tf.memory().numTensors).toBe(tensors);
        const uninterrupted = weightsOf(model);
        const state = (model.optimizer as AdamCScheduleFreePlusPaper).groupState();
        expect(state.k).toBe(16);

        const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
        const opt = loaded.optimizer as AdamCScheduleFreePlusPaper;
        cleanups.push(() => {
          opt.dispose();
          loaded.dispose();
        });
        expect(opt).toBeInstanceOf(AdamCScheduleFreePlusPaper);
        await loaded.fit(x, y, fitOptions);
        expect(weightsOf(loaded)).toEqual(uninterrupted);
        expect(opt.groupState()).toEqual(state);
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }
});

describe('variables without a gradient (frozen)', () => {
  it('applyGradients: null leaves the variable and its state untouched; counters advance', () => {
    const q = setup(7);
    const opt = new AdamWScheduleFree({ lr: 0.1, weightDecay: 0.1 }).train();
    cleanups.push(() => opt.dispose());
    const step = (frozenB: boolean) => {
      const grads = q.grads();
      opt.applyGradients(frozenB ? { [q.w.name]: grads[q.w.name], [q.b.name]: null } : grads);
      tf.dispose(Object.values(grads));
    };
    step(false);
    const b = Array.from(q.b.dataSync());
    const stateB = JSON.stringify(opt.stateDict().state[q.b.name]);
    const w = Array.from(q.w.dataSync());
    step(true);
    step(true);
    expect(Array.from(q.b.dataSync())).toEqual(b);
    expect(JSON.stringify(opt.stateDict().state[q.b.name])).toBe(stateB);
    expect(Array.from(q.w.dataSync())).not.toEqual(w);
    expect(opt.groupState().k).toBe(3);
  });

  it("an omitted variable is MISSING_GRAD (nothing changes) unless omittedGrads: 'freeze'", () => {
    const q = setup(8);
    const strict = new SGDScheduleFree({ lr: 0.1 }).train();
    cleanups.push(() => strict.dispose());
    const grads = q.grads();
    cleanups.push(() => tf.dispose(Object.values(grads)));
    strict.applyGradients(grads);
    const before = { ...q.read(), ...strict.groupState() };
    const error = caught(() => strict.applyGradients({ [q.w.name]: grads[q.w.name] }));
    expect(error.code).toBe('MISSING_GRAD');
    expect(error.message).toMatch(/omittedGrads: 'freeze'/);
    expect({ ...q.read(), ...strict.groupState() }).toEqual(before);

    const q2 = setup(8);
    const lenient = new SGDScheduleFree({ lr: 0.1, omittedGrads: 'freeze' }).train();
    cleanups.push(() => lenient.dispose());
    const g2 = q2.grads();
    cleanups.push(() => tf.dispose(Object.values(g2)));
    lenient.applyGradients(g2);
    const b = Array.from(q2.b.dataSync());
    lenient.applyGradients({ [q2.w.name]: g2[q2.w.name] });
    expect(Array.from(q2.b.dataSync())).toEqual(b);
    expect(lenient.groupState().k).toBe(2);
  });

  it('minimize: a variable of varList made non-trainable is frozen; one f does not reach is omitted', () => {
    const q = setup(9);
    const opt = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss, false, q.variables);
    const b = Array.from(q.b.dataSync());
    q.b.trainable = false;
    try {
      opt.minimize(q.loss, false, q.variables);
      opt.minimize(q.loss, false, q.variables);
    } finally {
      q.b.trainable = true;
    }
    // Eval mode: the frozen variable is back at x exactly, untouched.
    expect(Array.from(q.b.dataSync())).toEqual(b);
    expect(opt.groupState().k).toBe(3);
    const before = { ...q.read(), ...opt.groupState() };
    const onlyW = () => tf.sum(tf.square(q.w)) as tf.Scalar;
    const error = caught(() => opt.minimize(onlyW, false, q.variables));
    expect(error.code).toBe('MISSING_GRAD');
    expect(error.message).toContain(q.b.name);
    expect({ ...q.read(), ...opt.groupState() }).toEqual(before);
  });

  it('model.fit: a layer set trainable = false mid-training keeps its weights and state', async () => {
    const { model, x, y } = plusModel();
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    const opt = model.optimizer as AdamCScheduleFreePlusPaper;
    const frozenLayer = model.layers[0];
    const names = frozenLayer.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const weights = frozenLayer.getWeights().map((w) => Array.from(w.dataSync()));
    const state = names.map((n) => JSON.stringify(opt.stateDict().state[n]));
    const other = model.layers[1].getWeights().map((w) => Array.from(w.dataSync()));
    frozenLayer.trainable = false;
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    expect(frozenLayer.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(weights);
    expect(names.map((n) => JSON.stringify(opt.stateDict().state[n]))).toEqual(state);
    expect(model.layers[1].getWeights().map((w) => Array.from(w.dataSync()))).not.toEqual(other);
    expect(opt.groupState().k).toBe(8);
    frozenLayer.trainable = true;
    await model.fit(x, y, { ...fitOptions, epochs: 1 });
    expect(frozenLayer.getWeights().map((w) => Array.from(w.dataSync()))).not.toEqual(weights);
  });
});

describe('addParamGroup', () => {
  it('adds variables with their own options, validated; saved and restored with the others', async () => {
    const q = setup(10);
    const extra = tf.variable(tf.tensor1d([0.5, -1, 2]), true, `extra-${Math.random()}`);
    cleanups.push(() => extra.dispose());
    const opt = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    const noVariables = caught(() => opt.addParamGroup({ params: [extra] }));
    expect(noVariables.code).toBe('INVALID_PARAMS');
    expect(noVariables.message).toMatch(/attach/);
    opt.attach(q.variables);
    const lossWithExtra = () => tf.add(q.loss(), tf.sum(tf.square(extra))) as tf.Scalar;
    opt.minimize(q.loss, false, q.variables);
    const before = JSON.stringify(opt.stateDict());
    for (const [group, code, pattern] of [
      [{ params: [extra], lr: -1 }, 'INVALID_OPTION', /"lr"/],
      [{ params: [extra], lerningRate: 1 }, 'INVALID_OPTION', /lerningRate/],
      [{ params: [q.w] }, 'INVALID_PARAMS', /already trained/],
      [{ params: [extra, extra] }, 'INVALID_PARAMS', /twice/],
      [{ params: [] }, 'INVALID_PARAMS', /non-empty/],
      [{ lr: 1 }, 'INVALID_PARAMS', /params/],
      [null, 'INVALID_PARAMS', /params/],
    ] as const) {
      const error = caught(() => opt.addParamGroup(group as never));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(pattern);
      expect(JSON.stringify(opt.stateDict())).toBe(before);
    }
    opt.addParamGroup({ params: [extra], lr: 0.05, weightDecay: 0 });
    expect(opt.paramGroups).toHaveLength(2);
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.05, weightDecay: 0, params: [extra.name] });
    const e0 = Array.from(extra.dataSync());
    opt.minimize(lossWithExtra, false, [...q.variables, extra]);
    expect(Array.from(extra.dataSync())).not.toEqual(e0);
    expect(opt.groupState(1).k).toBe(1);
    expect(opt.groupState(0).k).toBe(2);

    // Saved and restored: a new optimizer continues exactly like this one.
    const weights = await opt.getWeights();
    const copy = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => copy.dispose());
    await copy.setWeights(weights);
    copy.attach([...q.variables, extra]);
    expect(copy.paramGroups.map((g) => ({ ...g }))).toEqual(opt.paramGroups.map((g) => ({ ...g })));
    expect(copy.stateDict()).toEqual(opt.stateDict());
    const state = opt.stateDict();
    const values = { ...q.read(), extra: Float64Array.from(extra.dataSync()) };
    opt.minimize(lossWithExtra, false, [...q.variables, extra]);
    const next = { ...q.read(), extra: Float64Array.from(extra.dataSync()) };
    // Back to the saved point, then the restored copy takes the same step.
    opt.eval();
    q.w.assign(tf.tensor(Array.from(values.w), q.w.shape));
    q.b.assign(tf.tensor(Array.from(values.b), q.b.shape));
    extra.assign(tf.tensor1d(Array.from(values.extra)));
    copy.loadStateDict(state);
    copy.minimize(lossWithExtra, false, [...q.variables, extra]);
    expect(sameBits({ ...q.read(), extra: Float64Array.from(extra.dataSync()) }, next)).toBe(true);
  });
});

describe('options that are not an object', () => {
  it('are INVALID_OPTION for every class and the wrapper', () => {
    const make: Array<() => unknown> = [
      () => new AdamWScheduleFree(0.01 as never),
      () => new SGDScheduleFree('fast' as never),
      () => new AdamCScheduleFreePlusPaper([1] as never),
      () => new ScheduleFreeWrapper(tf.train.sgd(0.1), 0.5 as never),
    ];
    for (const fn of make) {
      const error = caught(fn);
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/options must be an object/);
    }
  });
});

describe('setWeights checks the saved counters and options', () => {
  /** getWeights() with the header's JSON edited. */
  async function edited(opt: AdamWScheduleFree, edit: (header: Record<string, unknown>) => void) {
    const weights = await opt.getWeights();
    const header = JSON.parse(new TextDecoder().decode(Uint8Array.from(weights[0].tensor.dataSync())));
    edit(header);
    const bytes = new TextEncoder().encode(JSON.stringify(header));
    const tensor = tf.tensor1d(Float32Array.from(bytes));
    cleanups.push(() => tensor.dispose());
    return [{ name: weights[0].name, tensor }, ...weights.slice(1)];
  }

  for (const bound of [true, false]) {
    it(`refuses k = -5, NaN weightSum or an invalid lr in the header (${bound ? 'variables known' : 'before the first step'}), changing nothing`, async () => {
      const q = setup(11);
      const opt = new AdamWScheduleFree({ lr: 0.1 });
      cleanups.push(() => opt.dispose());
      opt.minimize(q.loss, false, q.variables);
      const target = new AdamWScheduleFree({ lr: 0.1 });
      cleanups.push(() => target.dispose());
      if (bound) target.attach(q.variables);
      const groups = (h: Record<string, unknown>) =>
        h.groups as Array<{ counters: Record<string, unknown>; options: Record<string, unknown> }>;
      for (const [edit, code, pattern] of [
        [
          (h: Record<string, unknown>) => {
            groups(h)[0].counters.k = -5;
          },
          'STATE_MISMATCH',
          /counters\.k/,
        ],
        [
          (h: Record<string, unknown>) => {
            groups(h)[0].counters.weightSum = null;
          },
          'STATE_MISMATCH',
          /weightSum/,
        ],
        [
          (h: Record<string, unknown>) => {
            groups(h)[0].options.lr = -1;
          },
          'INVALID_OPTION',
          /"lr"/,
        ],
      ] as const) {
        const before = JSON.stringify(target.groupState());
        const weights = await edited(opt, edit);
        await expect(target.setWeights(weights)).rejects.toMatchObject({
          code,
          message: expect.stringMatching(pattern),
        });
        expect(JSON.stringify(target.groupState())).toBe(before);
      }
    });
  }
});
