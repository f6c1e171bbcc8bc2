import * as core from '@schedulefree/core';
import { GPU } from 'gpu.js';
import { afterEach, describe, expect, it } from 'vitest';
import { AdamWScheduleFree, AdamWScheduleFreeClosure, ScheduleFreeError, SGDScheduleFree } from './index.js';

// How un-awaited calls behave: in call order, with what they depend on captured when they are made.
// `asyncKernels` makes every gpu.js kernel call return a promise, so work really completes later.

const gpus: GPU[] = [];
function gpu(mode: 'webasm' | 'cpu'): GPU {
  const g = new GPU({ mode });
  gpus.push(g);
  return g;
}
afterEach(async () => {
  for (const g of gpus.splice(0)) await g.destroy();
});

const N = 40;
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const gradsAt = (s: number) => ({ w: values(N, 100 + s), b: values(3, 200 + s) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected a rejection');
}

/** A gate: `open()` resolves `opened`. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe.each(['webasm', 'cpu'] as const)('un-awaited calls in %s mode', (mode) => {
  const adamw = (params = { w: values(N, 1), b: values(3, 2) }, asyncKernels = true) => ({
    params,
    opt: new AdamWScheduleFree(gpu(mode), params, { lr: 0.1, warmupSteps: 2, asyncKernels }),
  });

  it('three steps with a different lr set before each equal the awaited sequence, bit for bit', async () => {
    const lrs = [0.1, 0.02, 0.3];
    const awaited = adamw();
    await awaited.opt.train();
    for (const [s, lr] of lrs.entries()) {
      awaited.opt.paramGroups[0].lr = lr;
      await awaited.opt.step(gradsAt(s));
    }
    await awaited.opt.eval();

    const queued = adamw();
    const start = queued.params.w.slice();
    const calls: Promise<unknown>[] = [queued.opt.train()];
    for (const [s, lr] of lrs.entries()) {
      queued.opt.paramGroups[0].lr = lr;
      calls.push(queued.opt.step(gradsAt(s)));
    }
    calls.push(queued.opt.eval());
    expect(queued.params.w).toEqual(start); // the kernels have not finished yet
    await Promise.all(calls);
    expect(queued.params.w).toEqual(awaited.params.w);
    expect(queued.params.b).toEqual(awaited.params.b);
    expect(await queued.opt.stateDict()).toEqual(await awaited.opt.stateDict());
    // Without asyncKernels, a call made with nothing pending has done its work when it returns.
    const sync = adamw(undefined, false);
    await sync.opt.train();
    for (const [s, lr] of lrs.entries()) {
      sync.opt.paramGroups[0].lr = lr;
      const before = sync.params.w.slice();
      const step = sync.opt.step(gradsAt(s));
      expect(sync.params.w).not.toEqual(before);
      await step;
    }
    await sync.opt.eval();
    expect(sync.params.w).toEqual(awaited.params.w);
  });

  it('captures gradient contents when the step is made: refilling the buffer later changes nothing', async () => {
    const reference = adamw();
    await reference.opt.train();
    await reference.opt.step(gradsAt(0));
    await reference.opt.step(gradsAt(1));

    for (const asyncKernels of [true, false]) {
      const { params, opt } = adamw(undefined, asyncKernels);
      await opt.train();
      // Synchronous kernels: the steps wait behind a withEvalParams whose function is still running.
      const held = gate();
      const evaluation = asyncKernels ? null : opt.withEvalParams(() => held.opened);
      const first = gradsAt(0);
      const second = gradsAt(1);
      const steps = [opt.step(first), opt.step(second)]; // the second waits for the first
      for (const g of [first, second]) {
        g.w.fill(1e6);
        g.b.fill(Number.NaN);
      }
      held.open();
      await evaluation;
      await Promise.all(steps);
      expect(params.w).toEqual(reference.params.w);
      expect(await opt.stateDict()).toEqual(await reference.opt.stateDict());
    }
  });

  it('refuses to hand out the parameters while kernels run, until ready()', async () => {
    const { opt } = adamw();
    await opt.train();
    const step = opt.step(gradsAt(0));
    const error = (() => {
      try {
        void opt.params;
      } catch (e) {
        return e as ScheduleFreeError;
      }
    })();
    expect(error?.code).toBe('UNSUPPORTED');
    expect(error?.message).toMatch(/GPU work is still running; await the last call/);
    await opt.ready();
    expect(opt.params.w).toBeInstanceOf(Float32Array);
    await step;
  });

  it('lets a call made before dispose() complete, and refuses one made after it', async () => {
    const reference = adamw();
    await reference.opt.train();
    await reference.opt.step(gradsAt(0));
    for (const asyncKernels of [true, false]) {
      const { params, opt } = adamw(undefined, asyncKernels);
      await opt.train();
      // A withEvalParams whose function is still running holds the step back.
      const held = gate();
      const evaluation = opt.withEvalParams(() => held.opened);
      const step = opt.step(gradsAt(0));
      const disposed = opt.dispose();
      expect(opt.isDisposed).toBe(true);
      const late = await rejection(opt.step(gradsAt(1)));
      expect(late.code).toBe('DISPOSED');
      expect(late.message).toMatch(/called after dispose\(\)/);
      held.open();
      await evaluation;
      await expect(step).resolves.toBe(true);
      await disposed;
      expect(params.w).toEqual(reference.params.w);
      expect((await rejection(opt.readParams())).code).toBe('DISPOSED');
    }
  });
});

describe.each(['webasm', 'cpu'] as const)('closure steps in %s mode', (mode) => {
  const make = (params = { w: values(N, 1), b: values(3, 2) }) => ({
    params,
    opt: new AdamWScheduleFreeClosure(gpu(mode), params, { lr: 0.1, asyncKernels: true }),
  });

  it('make a step or loadStateDict called while the closure runs wait for it', async () => {
    const { params, opt } = make();
    await opt.step(() => gradsAt(0));
    const saved = await opt.stateDict();
    const atSave = params.w.slice();
    const held = gate();
    const order: string[] = [];
    const first = opt.step(async () => {
      await held.opened;
      order.push('closure');
      return { loss: 1.5, grads: gradsAt(1) };
    });
    const second = opt.step(() => {
      order.push('second closure');
      return gradsAt(2);
    });
    const load = opt.loadStateDict(saved).then(() => order.push('load'));
    await sleep(10);
    expect(order).toEqual([]);
    held.open();
    await expect(first).resolves.toBe(1.5);
    await second;
    await load;
    expect(order).toEqual(['closure', 'second closure', 'load']);
    // The load came last: the state is the saved one, the parameters moved on twice.
    expect(opt.groupState().k).toBe(1);
    expect((await opt.stateDict()).state).toEqual(saved.state);
    expect(params.w).not.toEqual(atSave);
  });

  it('refuse an invalid lr set by the closure, changing nothing', async () => {
    const { params, opt } = make();
    await opt.step(() => gradsAt(0));
    const before = await opt.stateDict();
    const w = params.w.slice();
    for (const bad of [Number.NaN, -1]) {
      const error = await rejection(
        opt.step(() => {
          opt.paramGroups[0].lr = bad;
          return gradsAt(1);
        }),
      );
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/"lr"/);
      expect(params.w).toEqual(w);
      opt.paramGroups[0].lr = 0.1;
      expect(await opt.stateDict()).toEqual(before);
    }
    // The same closure with a valid lr steps as the core does.
    const reference = { w: values(N, 1), b: values(3, 2) };
    const ref = new core.AdamWScheduleFreeClosure(reference, { lr: 0.1 });
    ref.step(() => gradsAt(0));
    ref.step(() => gradsAt(1));
    await opt.step(() => gradsAt(1));
    for (let i = 0; i < N; i++) expect(params.w[i]).toBeCloseTo(reference.w[i], 6);
  });
});

describe('options of the gpu.js execution', () => {
  it('must be booleans where they are flags', () => {
    const w = new Float32Array(4);
    for (const [name, value, shown] of [
      ['asyncKernels', 'yes', '"yes"'],
      ['asyncKernels', 1, '1'],
      ['asyncKernels', {}, '{}'],
      ['checkDeviceGradients', 1, '1'],
      ['checkDeviceGradients', 'true', '"true"'],
      ['checkDeviceGradients', 2n, '2n'],
      ['optimizeFloatMemory', null, 'null'],
    ] as const) {
      let error: unknown;
      try {
        new SGDScheduleFree(gpu('webasm'), { w }, { [name]: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ScheduleFreeError);
      expect((error as ScheduleFreeError).code).toBe('INVALID_OPTION');
      expect((error as Error).message).toContain(
        `SGDScheduleFree: option "${name}" must be true or false, got ${shown}. Pass { ${name}: true } or { ${name}: false }, or leave it out`,
      );
    }
  });
});
