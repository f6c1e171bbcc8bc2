import { describe, expect, it } from 'vitest';
import {
  AdamWScheduleFreeAlgorithm,
  AdamWScheduleFreeClosureAlgorithm,
  type AdamWScheduleFreeOptions,
  SGDScheduleFreeAlgorithm,
} from '../algorithms/definitions.js';
import { AsyncScheduleFreeClosureOptimizer, AsyncScheduleFreeOptimizer } from '../async-optimizer.js';
import type { Backend } from '../backend.js';
import { ScheduleFreeError } from '../errors.js';
import { ScheduleFreeClosureOptimizer, ScheduleFreeOptimizer } from '../optimizer.js';
import { typedArrayBackend } from '../typed-array/backend.js';
import type { TypedArray } from '../typed-array/ops.js';
import { Engine, followedBy } from './engine.js';
import { deferredBackend, flatDeviceBackend, sleep } from './test-backends.js';
import { waitAll } from './work.js';

const N = 5;
const init = () => ({
  a: Float64Array.from({ length: N }, (_, i) => 0.3 * i - 0.5),
  b: Float64Array.of(1, -2),
});
const gradAt = (s: number, n: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(1.3 * s + 0.7 * i));
const gradsAt = (s: number) => ({ a: gradAt(s, N), b: gradAt(s + 9, 2) });
const codeOf = (error: unknown) => (error as ScheduleFreeError).code;

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  try {
    await promise;
  } catch (error) {
    return error as ScheduleFreeError;
  }
  throw new Error('expected a rejection');
}

const asyncAdamW = (params = init(), log: string[] = []) =>
  new AsyncScheduleFreeOptimizer<TypedArray, AdamWScheduleFreeOptions>(
    AdamWScheduleFreeAlgorithm,
    deferredBackend(log),
    params,
    { lr: 0.1, warmupSteps: 2 },
  );

describe('asynchronous calls take effect in call order, as if each were awaited', () => {
  it('three un-awaited steps with a different lr set before each equal the awaited sequence, bit for bit', async () => {
    const awaited = asyncAdamW();
    await awaited.train();
    for (const [s, lr] of [0.1, 0.02, 0.3].entries()) {
      awaited.paramGroups[0].lr = lr;
      await awaited.step(gradsAt(s));
    }
    await awaited.eval();

    const params = init();
    const queued = asyncAdamW(params);
    void queued.train();
    const steps = [0.1, 0.02, 0.3].map((lr, s) => {
      queued.paramGroups[0].lr = lr;
      return queued.step(gradsAt(s));
    });
    const done = queued.eval();
    expect(params.a).toEqual(init().a); // nothing has happened yet
    await Promise.all([...steps, done]);
    expect((await queued.stateDict()).state).toEqual((await awaited.stateDict()).state);
    expect(queued.groupState()).toEqual(awaited.groupState());
    expect(params.a).toEqual(
      (awaited as unknown as { engine: { params: { a: Float64Array } } }).engine.params.a,
    );
  });

  it('captures gradient contents when the call is made: refilling the buffer afterwards changes nothing', async () => {
    const reference = asyncAdamW();
    await reference.train();
    await reference.step(gradsAt(0));

    const params = init();
    const opt = asyncAdamW(params);
    await opt.train();
    const grads = gradsAt(0);
    const pending = opt.step(grads);
    grads.a.fill(1e6);
    grads.b.fill(Number.NaN);
    await pending;
    expect((await opt.stateDict()).state).toEqual((await reference.stateDict()).state);
  });

  it('captures nothing for a call that ends before it returns (synchronous backend, nothing pending)', async () => {
    const base = typedArrayBackend();
    let captures = 0;
    const counting = (synchronous: boolean): Backend<TypedArray> => ({
      ...base,
      storage: {
        ...base.storage,
        capture: (t) => {
          captures++;
          return t.slice();
        },
      },
      capabilities: { ...base.capabilities, synchronous },
    });
    const reference = asyncAdamW();
    await reference.train();
    for (let s = 0; s < 3; s++) await reference.step(gradsAt(s));
    for (const synchronous of [true, false]) {
      captures = 0;
      const params = init();
      const opt = new AsyncScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, counting(synchronous), params, {
        lr: 0.1,
        warmupSteps: 2,
      });
      await opt.train();
      const grads = gradsAt(0);
      const step = opt.step(grads);
      if (synchronous) expect(params.a).not.toEqual(init().a); // done before step() returned
      grads.a.fill(1e6);
      await step;
      expect(captures).toBe(synchronous ? 0 : 2);
      // The second call waits for the first: its gradients are captured either way.
      const refilled = gradsAt(2);
      const steps = [opt.step(gradsAt(1)), opt.step(refilled)];
      refilled.a.fill(Number.NaN);
      await Promise.all(steps);
      expect(captures).toBe(synchronous ? 2 : 6);
      expect((await opt.stateDict()).state).toEqual((await reference.stateDict()).state);
    }
  });

  it('lets calls made before dispose() finish, and refuses calls made after it', async () => {
    const log: string[] = [];
    const opt = asyncAdamW(init(), log);
    const train = opt.train();
    const step = opt.step(gradsAt(0));
    const disposed = opt.dispose();
    expect(opt.isDisposed).toBe(true);
    expect(codeOf(await rejection(opt.step(gradsAt(1))))).toBe('DISPOSED');
    await expect(step).resolves.toBe(true);
    await train;
    await disposed;
    expect(log.some((key) => key.startsWith('sf-fused'))).toBe(true);
  });
});

describe('followedBy', () => {
  it('runs work on an operation’s result within the same call, before later calls take effect', async () => {
    const backend = deferredBackend();
    const engine = new Engine({
      algorithm: AdamWScheduleFreeAlgorithm,
      backend,
      params: init(),
      options: { lr: 0.1 },
    });
    await engine.later(engine.train());
    await engine.later(engine.step(gradsAt(0)));
    const x = (await engine.later(engine.evalParams())).map((t) => t.slice());
    const readBack = followedBy(engine.evalParams(), function* (tensors) {
      return yield* waitAll(tensors.map((t) => backend.storage.read(t)));
    });
    expect(readBack.method).toBe('evalParams');
    const read = engine.later(readBack);
    const step = engine.later(engine.step(gradsAt(1))); // queued behind the read
    expect(await read).toEqual(x);
    await step;
    expect((await engine.later(engine.evalParams()))[0]).not.toEqual(x[0]);
  });
});

describe('closure steps', () => {
  const closureOpt = (params = init()) =>
    new AsyncScheduleFreeClosureOptimizer(AdamWScheduleFreeClosureAlgorithm, deferredBackend(), params, {
      lr: 0.1,
    });

  it('make calls issued while the closure runs wait for the step', async () => {
    const opt = closureOpt();
    await opt.step(() => gradsAt(0));
    const saved = await opt.stateDict();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const order: string[] = [];
    const first = opt.step(async () => {
      await gate;
      order.push('closure');
      return { loss: 1.5, grads: gradsAt(1) };
    });
    const second = opt.step(() => {
      order.push('second closure');
      return gradsAt(2);
    });
    const load = opt.loadStateDict(saved).then(() => order.push('load'));
    await sleep(5);
    expect(order).toEqual([]);
    release();
    await expect(first).resolves.toBe(1.5);
    await second;
    await load;
    expect(order).toEqual(['closure', 'second closure', 'load']);
    expect(opt.groupState().k).toBe(1); // the load came last and restored the saved counters
  });

  it('refuse calls made from inside the closure', async () => {
    const opt = closureOpt();
    let inner: Promise<unknown> | undefined;
    await opt.step(() => {
      inner = opt.stateDict();
      inner.catch(() => {});
      return gradsAt(0);
    });
    const error = await rejection(inner!);
    expect(error.code).toBe('UNSUPPORTED');
    expect(error.message).toMatch(/inside the function passed to step\(closure\)/);
  });

  it('check options the closure sets before using them, and change nothing when they are invalid', async () => {
    const params = init();
    const opt = closureOpt(params);
    await opt.step(() => gradsAt(0));
    const before = await opt.stateDict();
    const a = params.a.slice();
    for (const bad of [Number.NaN, -1]) {
      const error = await rejection(
        opt.step(() => {
          opt.paramGroups[0].lr = bad;
          return gradsAt(1);
        }),
      );
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/"lr"/);
      expect(params.a).toEqual(a);
      opt.paramGroups[0].lr = 0.1;
      expect(await opt.stateDict()).toEqual(before);
    }
  });

  it('on synchronous optimizers too', () => {
    const params = init();
    const opt = new ScheduleFreeClosureOptimizer(
      AdamWScheduleFreeClosureAlgorithm,
      typedArrayBackend(),
      params,
      {
        lr: 0.1,
      },
    );
    opt.step(() => gradsAt(0));
    const a = params.a.slice();
    const k = opt.groupState().k;
    expect(() =>
      opt.step(() => {
        opt.paramGroups[0].lr = -1;
        return gradsAt(1);
      }),
    ).toThrow(/"lr"/);
    expect(params.a).toEqual(a);
    expect(opt.groupState().k).toBe(k);
    opt.paramGroups[0].lr = 0.1;
    const reentrant = () => {
      opt.step(() => gradsAt(0));
      return gradsAt(1);
    };
    expect(() => opt.step(reentrant)).toThrow(/inside the function/);
    expect(params.a).toEqual(a);
  });
});

describe('withEvalParams', () => {
  it('refuses steps and mode switches from inside fn, leaving parameters and counters as they were', () => {
    const params = init();
    const opt = new ScheduleFreeOptimizer(SGDScheduleFreeAlgorithm, typedArrayBackend(), params, { lr: 0.5 });
    opt.train();
    opt.step(gradsAt(0));
    const y = params.a.slice();
    const k = opt.groupState().k;
    expect(() =>
      opt.withEvalParams(() => {
        opt.train();
        opt.step(gradsAt(1));
      }),
    ).toThrow(ScheduleFreeError);
    expect(params.a).toEqual(y);
    expect(opt.groupState().k).toBe(k);
  });

  it('keeps the optimizer busy while fn’s promise is pending, then restores y exactly', async () => {
    const params = init();
    const opt = new ScheduleFreeOptimizer(SGDScheduleFreeAlgorithm, typedArrayBackend(), params, { lr: 0.5 });
    opt.train();
    opt.step(gradsAt(0));
    const y = params.a.slice();
    const x = opt.evalParams().a;
    let seen: Float64Array | undefined;
    const pending = opt.withEvalParams(async () => {
      await sleep(1);
      seen = (params.a as Float64Array).slice();
      return 7;
    });
    expect(() => opt.step(gradsAt(1))).toThrow(/has not finished/);
    await expect(pending).resolves.toBe(7);
    expect(seen).toEqual(x);
    expect(params.a).toEqual(y);
    opt.step(gradsAt(1));
  });
});

describe('the flat layout with immutable runs and device-side gradient checks', () => {
  it('matches the per-parameter layout and discards a step whose gradients are not finite', () => {
    const flatParams = init();
    const flat = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, flatDeviceBackend(), [
      { params: flatParams, lr: 0.05 },
    ]);
    const plainParams = init();
    const plain = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), plainParams, {
      lr: 0.05,
    });
    for (const opt of [flat, plain]) {
      opt.train();
      for (let s = 0; s < 3; s++) opt.step(gradsAt(s));
    }
    expect(flat.stateDict()).toEqual(plain.stateDict());
    expect(flat.evalParams()).toEqual(plain.evalParams());
    const before = flat.stateDict();
    const bad = gradsAt(4);
    bad.b[1] = Number.POSITIVE_INFINITY;
    expect(() => flat.step(bad)).toThrow(/NaN or Infinity/);
    expect(flat.stateDict()).toEqual(before);
    flat.eval();
    plain.eval();
    expect(flat.stateDict()).toEqual(plain.stateDict());
  });
});

describe('state dicts', () => {
  it('round-trip through tensors of the backend and through typed arrays, matched by name', () => {
    const params = init();
    const opt = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), params, {
      lr: 0.1,
    });
    opt.train();
    opt.step(gradsAt(0));
    const json = opt.stateDict();
    const engine = (opt as unknown as { engine: import('./engine.js').Engine<TypedArray, object> }).engine;
    const tensors = engine.now(engine.stateTensors());
    expect(tensors.state.a.z).toBeInstanceOf(Float64Array);
    expect(Array.from(tensors.state.a.z)).toEqual(json.state.a.z);
    tensors.state.a.z[0] = 123; // a copy: the optimizer's own state is untouched
    expect(opt.stateDict()).toEqual(json);

    const other = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), init(), {
      lr: 0.1,
    });
    const typed = {
      ...json,
      state: Object.fromEntries(
        Object.entries(json.state).map(([n, slots]) => [
          n,
          Object.fromEntries(Object.entries(slots).map(([k, v]) => [k, Float64Array.from(v)])),
        ]),
      ),
    };
    other.loadStateDict(typed as never);
    expect(other.stateDict()).toEqual(json);
    const broken = { ...json, state: { ...json.state, b: { ...json.state.b, v: 'abc' } } };
    expect(() => other.loadStateDict(broken as never)).toThrow(
      /state\.b\.v is "abc", not an array of numbers/,
    );
    expect(other.stateDict()).toEqual(json);
  });
});

describe('parameters without a gradient, parameter groups added later, and the loss', () => {
  it('leaves a parameter whose gradient is null untouched while the counters advance', () => {
    const params = init();
    const opt = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), params, {
      lr: 0.1,
    });
    opt.train();
    opt.step(gradsAt(0));
    const b = params.b.slice();
    const state = opt.stateDict().state.b;
    opt.step({ a: gradAt(1, N), b: null });
    expect(params.b).toEqual(b);
    expect(opt.stateDict().state.b).toEqual(state);
    expect(opt.groupState().k).toBe(2);
    expect(() => opt.step({ a: gradAt(2, N) })).toThrow(/null for a parameter without a gradient/);
    const freezing = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), init(), {
      omittedGrads: 'freeze',
    });
    freezing.train();
    expect(freezing.step({ a: gradAt(2, N) })).toBe(true);
    expect(
      () =>
        new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), init(), {
          omittedGrads: 1,
        }),
    ).toThrow(/omittedGrads/);
  });

  it('adds a parameter group that starts from the constructor options and is saved with the others', () => {
    const params = init();
    const opt = new ScheduleFreeOptimizer(
      AdamWScheduleFreeAlgorithm,
      typedArrayBackend(),
      { a: params.a },
      {
        lr: 0.07,
      },
    );
    opt.train();
    opt.step({ a: gradAt(0, N) });
    expect(() => opt.addParamGroup({ params: { a: params.b } })).toThrow(/more than one group/);
    expect(() => opt.addParamGroup({ params: { c: params.a } })).toThrow(/same tensor/);
    expect(() => opt.addParamGroup({ params: { b: params.b }, lr: -1 })).toThrow(/"lr"/);
    expect(opt.paramGroups).toHaveLength(1);
    opt.addParamGroup({ params: { b: params.b }, weightDecay: 0.5 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.07, weightDecay: 0.5, params: ['b'] });
    opt.step(gradsAt(1));
    expect(opt.groupState(0).k).toBe(2);
    expect(opt.groupState(1).k).toBe(1);
    const saved = opt.stateDict();
    expect(saved.groups).toHaveLength(2);
    const copy = new ScheduleFreeOptimizer(AdamWScheduleFreeAlgorithm, typedArrayBackend(), [
      { params: { a: params.a.slice() } },
      { params: { b: params.b.slice() } },
    ]);
    copy.loadStateDict(saved);
    expect(copy.stateDict()).toEqual(saved);
  });

  it('refuses a missing or non-finite loss where the algorithm needs one, changing nothing', async () => {
    const { AdamCScheduleFreePlusPaper } = await import('../typed-array/classes.js');
    const params = init();
    const opt = new AdamCScheduleFreePlusPaper(params);
    opt.train();
    for (const loss of [undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => opt.step(gradsAt(0), { loss })).toThrow(/needs the loss/);
    }
    expect(opt.groupState().k).toBe(0);
    expect(params.a).toEqual(init().a);
    opt.step(gradsAt(0), { loss: 2 });
    expect(opt.groupState().k).toBe(1);
    // Every gradient zero: the reference divides by zero; here the Polyak step is 0 and nothing moves.
    const still = init();
    const zero = new AdamCScheduleFreePlusPaper(still);
    zero.train();
    zero.step({ a: new Float64Array(N), b: new Float64Array(2) }, { loss: 1 });
    expect(still).toEqual(init());
  });
});

describe('operations named by the adapter', () => {
  it('word their messages and their refusals with the adapter’s method name', async () => {
    const { Engine } = await import('./engine.js');
    const engine = new Engine({
      algorithm: AdamWScheduleFreeAlgorithm,
      backend: deferredBackend([]),
      params: init(),
      options: { lr: 0.1 },
      name: 'Adapter',
    });
    const wrongMode = await rejection(
      engine.later(engine.step(gradsAt(0), { method: 'applyGradientsAsync' })),
    );
    expect(wrongMode.message).toMatch(/^Adapter\.applyGradientsAsync\(\) was called in eval mode/);
    await engine.later(engine.train());
    const badGrads = await rejection(
      engine.later(engine.step({ a: gradsAt(0).a }, { method: 'applyGradientsAsync' })),
    );
    expect(badGrads.message).toMatch(/^Adapter\.applyGradientsAsync: no gradient for parameter "b"/);
    const pending = engine.later(engine.closureStep(() => gradsAt(1), 'minimizeAsync'));
    expect(() => engine.now(engine.step(gradsAt(2), { method: 'applyGradients' }))).toThrow(
      /Adapter\.applyGradients\(\) was called while minimizeAsync\(\) has not finished/,
    );
    await pending;
    const inside = await rejection(
      engine.later(
        engine.closureStep(() => {
          engine.now(engine.step(gradsAt(3), { method: 'applyGradients' }));
          return gradsAt(3);
        }, 'minimize'),
      ),
    );
    expect(inside.message).toMatch(/inside the function passed to minimize\(closure\)/);
    expect(engine.groupState().k).toBe(1);
  });
});

describe('options that overflow', () => {
  it('are refused in a closure step in eval mode, whose move back to x divides by β', () => {
    const params = init();
    const before = JSON.stringify(Object.values(params).map((a) => Array.from(a)));
    const engine = new Engine({
      algorithm: SGDScheduleFreeAlgorithm,
      backend: typedArrayBackend(),
      params,
      options: { lr: 0.1, momentum: 1e-300 },
    });
    let error: unknown;
    try {
      engine.now(engine.closureStep(() => gradsAt(0), 'minimize'));
    } catch (e) {
      error = e;
    }
    expect(codeOf(error)).toBe('INVALID_OPTION');
    expect((error as Error).message).toMatch(/per-step value/);
    expect(JSON.stringify(Object.values(params).map((a) => Array.from(a)))).toBe(before);
    expect(engine.groupState().k).toBe(0);
  });
});

describe('engine options', () => {
  it('are split from the rest and checked, for adapters that take options before creating an engine', async () => {
    const { splitEngineOptions } = await import('./engine.js');
    expect(splitEngineOptions(undefined, 'X')).toEqual({
      engine: { nonFiniteGrads: 'throw', omittedGrads: 'error' },
      rest: {},
    });
    expect(
      splitEngineOptions({ lr: 1, nonFiniteGrads: 'skip', omittedGrads: 'freeze', kernels: 'ops' }, 'X'),
    ).toEqual({
      engine: { nonFiniteGrads: 'skip', omittedGrads: 'freeze' },
      rest: { lr: 1, kernels: 'ops' },
    });
    expect(() => splitEngineOptions({ omittedGrads: 'drop' }, 'X')).toThrow(
      /"omittedGrads" must be 'error' or 'freeze'/,
    );
    expect(() => splitEngineOptions({ nonFiniteGrads: 'ignore' }, 'X')).toThrow(
      /^X: option "nonFiniteGrads" must be 'throw', 'skip' or 'unchecked', got "ignore"\.$/,
    );
    expect(() => splitEngineOptions([1], 'X')).toThrow(/X: options must be an object.*an array/);
  });
});

describe("nonFiniteGrads: 'unchecked'", () => {
  it('never asks the backend whether a gradient is finite, on the host or on the device', () => {
    const base = flatDeviceBackend();
    const asked: string[] = [];
    const backend: Backend<TypedArray> = {
      ...base,
      storage: { ...base.storage, allFinite: () => (asked.push('host'), null) },
      execution: {
        run(request) {
          if (request.checkGradients) asked.push('device');
          return base.execution.run(request);
        },
      },
    };
    const opt = new ScheduleFreeOptimizer<TypedArray, AdamWScheduleFreeOptions>(
      AdamWScheduleFreeAlgorithm,
      backend,
      init(),
      { lr: 0.1, nonFiniteGrads: 'unchecked' },
    ).train();
    opt.step(gradsAt(0));
    expect(asked).toEqual([]);
    // What it costs: a NaN gradient goes through and reaches the parameters.
    opt.step({ a: gradAt(1, N).fill(Number.NaN), b: gradAt(2, 2) });
    expect(Number.isNaN(opt.params.a[0])).toBe(true);

    const checked = new ScheduleFreeOptimizer<TypedArray, AdamWScheduleFreeOptions>(
      AdamWScheduleFreeAlgorithm,
      backend,
      init(),
      { lr: 0.1 },
    ).train();
    checked.step(gradsAt(0));
    expect(asked).toEqual(['host', 'host', 'device']);
  });
});
