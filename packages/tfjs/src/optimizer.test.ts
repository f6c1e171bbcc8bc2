import * as core from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamWScheduleFree, RAdamScheduleFree, ScheduleFreeError, SGDScheduleFree, train } from './index.js';
import { maxRelDiff, quadratic, sameBits } from './test-support/problem.js';

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

/** The float64 core optimizer over the same problem, with gradients computed in float64. */
function reference(
  q: ReturnType<typeof quadratic>,
  Cls: new (p: never, o: never) => core.OptimizerBase<core.TypedArray, object>,
  options: object,
) {
  const params = { w: Float64Array.from(q.init.w), b: Float64Array.from(q.init.b) };
  const opt = new Cls(params as never, options as never);
  const grads = () => ({
    w: params.w.map((v, i) => q.a.w[i] * (v - q.target.w[i])),
    b: params.b.map((v, i) => q.a.b[i] * (v - q.target.b[i])),
  });
  return { params, opt, grads };
}

function expectError(fn: () => unknown, code: core.ScheduleFreeErrorCode, pattern: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ScheduleFreeError);
  expect((caught as ScheduleFreeError).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}

describe('modes', () => {
  it('starts in eval mode; train() and eval() switch and move the variables between y and x', () => {
    const q = setup();
    const opt = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    expect(opt.mode).toBe('eval');
    opt.train();
    expect(opt.mode).toBe('train');
    for (let i = 0; i < 3; i++) opt.applyGradients(q.grads());
    const y = q.read();
    const x = opt.evalParams();
    const xValues = {
      w: Float64Array.from(x[q.w.name].dataSync()),
      b: Float64Array.from(x[q.b.name].dataSync()),
    };
    tf.dispose(Object.values(x));
    expect(sameBits(q.read(), y)).toBe(true); // evalParams touched nothing
    opt.eval();
    expect(opt.mode).toBe('eval');
    expect(sameBits(q.read(), xValues)).toBe(true);
    expect(maxRelDiff(q.read(), y)).toBeGreaterThan(1e-4); // x and y differ after 3 steps
  });

  it('applyGradients in eval mode says to call train() or use minimize, and changes nothing', () => {
    const q = setup();
    const opt = new SGDScheduleFree({ lr: 0.5 });
    cleanups.push(() => opt.dispose());
    const before = q.read();
    const grads = q.grads();
    cleanups.push(() => tf.dispose(Object.values(grads)));
    expectError(() => opt.applyGradients(grads), 'WRONG_MODE', /train\(\).*minimize/s);
    expect(sameBits(q.read(), before)).toBe(true);
    opt.train();
    opt.applyGradients(grads);
    opt.eval();
    expectError(() => opt.applyGradients(grads), 'WRONG_MODE', /train\(\)/);
  });

  it('minimize in eval mode is the closure form: gradients at y, variables left at x', () => {
    const q = setup(3);
    const options = { lr: 0.05, weightDecay: 0.1, warmupSteps: 2 };
    const opt = new AdamWScheduleFree(options);
    cleanups.push(() => opt.dispose());
    const ref = reference(q, core.AdamWScheduleFreeClosure as never, options);
    for (let i = 0; i < 8; i++) {
      const loss = opt.minimize(q.loss, true, q.variables);
      expect(loss).not.toBeNull();
      loss!.dispose();
      (ref.opt as core.ScheduleFreeClosureOptimizer<core.TypedArray, object>).step(() => ref.grads());
      expect(opt.mode).toBe('eval');
      expect(maxRelDiff(q.read(), ref.params)).toBeLessThan(2e-5);
    }
  });

  it('minimize in train mode steps at y like applyGradients, matching the float64 core', () => {
    const q = setup(4);
    const options = { lr: 0.05, betas: [0.9, 0.99] as [number, number], innerMomentum: 0.5 };
    const opt = new AdamWScheduleFree(options).train();
    cleanups.push(() => opt.dispose());
    const ref = reference(q, core.AdamWScheduleFree as never, options);
    (ref.opt as core.ScheduleFreeOptimizer<core.TypedArray, object>).train();
    for (let i = 0; i < 8; i++) {
      opt.minimize(q.loss);
      (ref.opt as core.ScheduleFreeOptimizer<core.TypedArray, object>).step(ref.grads());
    }
    expect(maxRelDiff(q.read(), ref.params)).toBeLessThan(2e-5);
    expect(opt.iterations).toBe(8);
    expect(opt.groupState().k).toBe(8);
  });

  it('withEvalParams runs at x and restores y exactly, also when the function throws', async () => {
    const q = setup();
    const opt = new RAdamScheduleFree({ lr: 0.1, silentSgdPhase: false }).train();
    cleanups.push(() => opt.dispose());
    for (let i = 0; i < 4; i++) opt.minimize(q.loss);
    const y = q.read();
    const x = opt.evalParams();
    const seen = opt.withEvalParams(() => Float64Array.from(q.w.dataSync()));
    expect(Array.from(seen)).toEqual(Array.from(x[q.w.name].dataSync()));
    tf.dispose(Object.values(x));
    expect(sameBits(q.read(), y)).toBe(true);
    expect(() =>
      opt.withEvalParams(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(sameBits(q.read(), y)).toBe(true);
    await opt.withEvalParams(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
    expect(sameBits(q.read(), y)).toBe(true);
    expect(opt.mode).toBe('train');
  });
});

describe('errors change nothing', () => {
  function trained() {
    const q = setup(7);
    const opt = new AdamWScheduleFree({ lr: 0.1, weightDecay: 0.01 }).train();
    cleanups.push(() => opt.dispose());
    for (let i = 0; i < 3; i++) opt.minimize(q.loss);
    return { q, opt, state: () => ({ ...q.read(), ...opt.groupState() }) };
  }

  it('rejects bad gradients by variable name: unknown, missing, wrong shape or dtype, non-finite', () => {
    const { q, opt, state } = trained();
    const before = state();
    const good = q.grads();
    const bad: Array<[Record<string, tf.Tensor>, core.ScheduleFreeErrorCode, RegExp]> = [
      [{ ...good, stray: tf.zeros([2]) }, 'UNKNOWN_PARAM', /stray/],
      [{ [q.w.name]: good[q.w.name] }, 'MISSING_GRAD', new RegExp(q.b.name)],
      [{ ...good, [q.w.name]: tf.zeros([2, 3]) }, 'SHAPE_MISMATCH', /"q\d+\/w" has shape \[2,3\].*\[3,2\]/],
      [{ ...good, [q.w.name]: tf.zeros([7]) }, 'SHAPE_MISMATCH', /"q\d+\/w" has 7 elements.*6/],
      [{ ...good, [q.b.name]: tf.zeros([4], 'int32') }, 'DTYPE_MISMATCH', /int32/],
      [{ ...good, [q.b.name]: tf.tensor([0, 1, Number.NaN, 2]) }, 'NON_FINITE_GRAD', new RegExp(q.b.name)],
      [
        { ...good, [q.w.name]: tf.fill([3, 2], Number.POSITIVE_INFINITY) },
        'NON_FINITE_GRAD',
        /NaN or Infinity/,
      ],
    ];
    for (const [grads, code, pattern] of bad) {
      expectError(() => opt.applyGradients(grads), code, pattern);
      expect(state()).toEqual(before);
    }
    tf.dispose(bad.flatMap(([g]) => Object.values(g)));
  });

  it("nonFiniteGrads: 'skip' skips the whole step; checkFinite: false lets NaN through", () => {
    const q = setup();
    const skip = new SGDScheduleFree({ lr: 0.1, nonFiniteGrads: 'skip' }).train();
    cleanups.push(() => skip.dispose());
    skip.minimize(q.loss);
    const before = q.read();
    const nan = { [q.w.name]: tf.fill([3, 2], Number.NaN), [q.b.name]: tf.zeros([4]) };
    skip.applyGradients(nan);
    expect(sameBits(q.read(), before)).toBe(true);
    expect(skip.groupState().k).toBe(1);
    // In eval mode the skipped step also leaves x exactly where it was.
    const evalSkip = new SGDScheduleFree({ lr: 0.1, nonFiniteGrads: 'skip' });
    cleanups.push(() => evalSkip.dispose());
    skip.eval();
    evalSkip.minimize(q.loss);
    const x = q.read();
    evalSkip.minimize(() => tf.mul(q.loss(), Number.NaN) as tf.Scalar);
    expect(sameBits(q.read(), x)).toBe(true);
    expect(evalSkip.groupState().k).toBe(1);
    const unchecked = new SGDScheduleFree({ lr: 0.1, checkFinite: false }).train();
    cleanups.push(() => unchecked.dispose());
    unchecked.applyGradients(nan);
    expect(Number.isNaN(q.w.dataSync()[0])).toBe(true);
    tf.dispose(Object.values(nan));
  });

  it('an eval-mode minimize whose loss throws, or whose gradient is NaN, restores x bit for bit', () => {
    const q = setup(5);
    const opt = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    for (let i = 0; i < 3; i++) opt.minimize(q.loss);
    const x = q.read();
    const k = opt.groupState().k;
    expect(() =>
      opt.minimize(() => {
        throw new Error('loss failed');
      }),
    ).toThrow('loss failed');
    expect(sameBits(q.read(), x)).toBe(true);
    expectError(
      () => opt.minimize(() => tf.mul(q.loss(), Number.NaN) as tf.Scalar),
      'NON_FINITE_GRAD',
      /NaN or Infinity/,
    );
    expect(sameBits(q.read(), x)).toBe(true);
    expect(opt.groupState().k).toBe(k);
  });

  it('invalid options are named at construction; an invalid lr set later fails at the next step', () => {
    expectError(() => new AdamWScheduleFree({ lr: -1 }), 'INVALID_OPTION', /"lr"/);
    expectError(() => new AdamWScheduleFree({ betas: [1.2, 0.999] }), 'INVALID_OPTION', /betas\[0\]/);
    expectError(() => new AdamWScheduleFree({ lerningRate: 1 } as never), 'INVALID_OPTION', /lerningRate/);
    expectError(() => new AdamWScheduleFree({ kernels: 'gpu' } as never), 'INVALID_OPTION', /kernels/);
    expectError(
      () => new AdamWScheduleFree({ paramGroups: [{ params: [/bias/], eps: 0 }] }),
      'INVALID_OPTION',
      /paramGroups\[0\].*"eps"/,
    );
    const q = setup();
    const opt = new SGDScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss);
    expectError(() => opt.setLearningRate(-2), 'INVALID_OPTION', /"lr"/);
    (opt.paramGroups[0] as { lr: number }).lr = Number.NaN;
    const x = q.read();
    expectError(() => opt.minimize(q.loss), 'INVALID_OPTION', /"lr"/);
    expect(sameBits(q.read(), x)).toBe(true);
  });

  it('use after dispose is an error; dispose frees every tensor the optimizer created', () => {
    const q = setup();
    const before = tf.memory().numTensors;
    const opt = train.adamwScheduleFree({ lr: 0.1 });
    for (let i = 0; i < 3; i++) opt.minimize(q.loss);
    opt.train();
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expectError(() => opt.minimize(q.loss), 'DISPOSED', /dispose\(\)/);
    expectError(() => opt.train(), 'DISPOSED', /dispose\(\)/);
  });
});

describe('parameter groups and learning rates', () => {
  it('paramGroups give variables their own options, as the core groups do', () => {
    const q = setup(9);
    const opt = new AdamWScheduleFree({
      lr: 0.05,
      weightDecay: 0.2,
      paramGroups: [{ params: [/\/b$/], weightDecay: 0, lr: 0.1 }],
    }).train();
    cleanups.push(() => opt.dispose());
    const params = { w: Float64Array.from(q.init.w), b: Float64Array.from(q.init.b) };
    const ref = new core.AdamWScheduleFree(
      [{ params: { b: params.b }, weightDecay: 0, lr: 0.1 }, { params: { w: params.w } }],
      { lr: 0.05, weightDecay: 0.2 },
    ).train();
    for (let i = 0; i < 5; i++) {
      opt.minimize(q.loss);
      ref.step({
        w: params.w.map((v, j) => q.a.w[j] * (v - q.target.w[j])),
        b: params.b.map((v, j) => q.a.b[j] * (v - q.target.b[j])),
      });
    }
    expect(opt.paramGroups.map((g) => g.params)).toEqual([[q.b.name], [q.w.name]]);
    expect(maxRelDiff(q.read(), params)).toBeLessThan(2e-5);
  });

  it('a group that selects no variable is an error naming it', () => {
    const q = setup();
    const opt = new SGDScheduleFree({ paramGroups: [{ params: ['nope'], lr: 0.1 }] });
    cleanups.push(() => opt.dispose());
    expectError(() => opt.minimize(q.loss), 'INVALID_PARAMS', /paramGroups\[0\] selects none/);
  });

  it('setLearningRate changes the next step (an external schedule), and lrMax keeps the peak', () => {
    const q = setup();
    const opt = new SGDScheduleFree({ lr: 0.2 }).train();
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss);
    opt.setLearningRate(0.05);
    expect(opt.learningRate).toBe(0.05);
    opt.minimize(q.loss);
    expect(opt.groupState()).toMatchObject({ k: 2, lrMax: 0.2, scheduledLr: 0.05 });
  });
});

describe('tfjs integration', () => {
  it('is a tf.Optimizer, and instanceof means the class', () => {
    const opt = new AdamWScheduleFree();
    const adam = tf.train.adam(0.001);
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(adam instanceof AdamWScheduleFree).toBe(false);
    expect(opt instanceof SGDScheduleFree).toBe(false);
    expect(opt.getClassName()).toBe('AdamWScheduleFree');
    opt.dispose();
    adam.dispose();
  });

  it('getConfig round-trips through the registry with every option', () => {
    const opt = new AdamWScheduleFree({ lr: 3e-3, betas: [0.95, 0.99], warmupSteps: 10, checkFinite: false });
    const config = opt.getConfig();
    expect(config).toMatchObject({
      lr: 3e-3,
      betas: [0.95, 0.99],
      warmupSteps: 10,
      checkFinite: false,
      eps: 1e-8,
    });
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap.AdamWScheduleFree;
    const copy = fromConfig(cls, { ...config, customObjects: {} }) as AdamWScheduleFree;
    expect(copy).toBeInstanceOf(AdamWScheduleFree);
    expect(copy.getConfig()).toEqual(config);
    opt.dispose();
    copy.dispose();
  });

  it('keeps tf.memory().numTensors flat over thousands of steps in both modes', () => {
    const q = setup();
    const opt = new AdamWScheduleFree({ lr: 0.01, weightDecay: 0.01 });
    cleanups.push(() => opt.dispose());
    opt.minimize(q.loss);
    const start = tf.memory().numTensors;
    for (let i = 0; i < 1500; i++) opt.minimize(q.loss);
    opt.train();
    for (let i = 0; i < 1500; i++) {
      const grads = q.grads();
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    opt.eval();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('getWeights and setWeights', () => {
  it('return snapshots: restoring one (with the variables) replays the same steps bit for bit', async () => {
    const q = setup(21);
    const opt = new AdamWScheduleFree({ lr: 0.05, warmupSteps: 2 });
    cleanups.push(() => opt.dispose());
    for (let i = 0; i < 3; i++) opt.minimize(q.loss);
    const snapshot = await opt.getWeights();
    const values = q.variables.map((v) => tf.keep(tf.clone(v)));
    cleanups.push(() => tf.dispose(values));
    const counters = opt.groupState();
    for (let i = 0; i < 2; i++) opt.minimize(q.loss);
    const after = q.read();
    const afterCounters = opt.groupState();
    q.variables.forEach((v, i) => {
      v.assign(values[i]);
    });
    await opt.setWeights(snapshot);
    expect(opt.groupState()).toEqual(counters);
    for (let i = 0; i < 2; i++) opt.minimize(q.loss);
    expect(sameBits(q.read(), after)).toBe(true);
    expect(opt.groupState()).toEqual(afterCounters);
  });

  it('a damaged state (NaN in a state tensor) is refused by setWeights, changing nothing', async () => {
    const q = setup(24);
    const opt = new AdamWScheduleFree({ lr: 0.05 });
    const fresh = new AdamWScheduleFree({ lr: 0.05 });
    cleanups.push(
      () => opt.dispose(),
      () => fresh.dispose(),
    );
    for (let i = 0; i < 2; i++) opt.minimize(q.loss);
    const saved = await opt.getWeights();
    const nan = tf.fill(saved[2].tensor.shape, Number.NaN);
    cleanups.push(() => nan.dispose());
    const damaged = saved.map((w, i) => (i === 2 ? { name: w.name, tensor: nan } : w));
    const before = { values: q.read(), state: opt.stateDict() };
    for (const target of [opt, fresh]) {
      let caught: unknown;
      await target.setWeights(damaged).catch((error: unknown) => {
        caught = error;
      });
      expect((caught as ScheduleFreeError).code).toBe('STATE_MISMATCH');
      expect((caught as Error).message).toMatch(new RegExp(`damaged: "${saved[2].name}" contains NaN`));
    }
    expect(sameBits(q.read(), before.values)).toBe(true);
    expect(opt.stateDict()).toEqual(before.state);
    expect(fresh.groupState().k).toBe(0);
  });

  it('a fresh optimizer saves its mode, and loading it gives a fresh optimizer in that mode', async () => {
    const opt = new SGDScheduleFree().train();
    const other = new SGDScheduleFree();
    cleanups.push(
      () => opt.dispose(),
      () => other.dispose(),
    );
    await other.setWeights(await opt.getWeights());
    expect(other.mode).toBe('train');
    expect(other.groupState().k).toBe(0);
  });

  it('after a load, attach(variables) makes train() and eval() move them before any step', async () => {
    const q = setup(22);
    const opt = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => opt.dispose());
    for (let i = 0; i < 4; i++) opt.minimize(q.loss);
    const x = q.read();
    const loaded = new AdamWScheduleFree({ lr: 0.1 });
    cleanups.push(() => loaded.dispose());
    await loaded.setWeights(await opt.getWeights());
    expect(() => loaded.evalParams()).toThrow(/attach/);
    loaded.attach(q.variables);
    loaded.train();
    const y = q.read();
    expect(maxRelDiff(y, x)).toBeGreaterThan(1e-4);
    loaded.eval();
    expect(maxRelDiff(q.read(), x)).toBeLessThan(1e-5);
  });

  it('after a load, minimize without varList finds its variables and continues exactly', async () => {
    const [a, b] = [setup(23), setup(23)];
    const original = new SGDScheduleFree({ lr: 0.3, warmupSteps: 2 });
    cleanups.push(() => original.dispose());
    for (let i = 0; i < 3; i++) original.minimize(a.loss);
    b.variables.forEach((v, i) => {
      v.assign(a.variables[i]);
    });
    const loaded = new SGDScheduleFree({ lr: 0.3, warmupSteps: 2 });
    cleanups.push(() => loaded.dispose());
    await loaded.setWeights(await original.getWeights());
    for (let i = 0; i < 3; i++) {
      original.minimize(a.loss);
      loaded.minimize(b.loss);
    }
    expect(sameBits(b.read(), a.read())).toBe(true);
  });
});
