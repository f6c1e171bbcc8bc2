import { ScheduleFreeError } from '@schedulefree/core';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { AdamWScheduleFree, AdamWScheduleFreeClosure, type OrtTensor, type StateDict } from './index.js';

// The asynchronous semantics the core's engine gives every async adapter, checked on ONNX Runtime:
// un-awaited calls equal the awaited sequence, gradients and options are taken when a call is made,
// calls made during a closure step wait for it, dispose() lets earlier calls finish, and options a
// closure sets are checked before they are used.

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const start = () => ({
  w: new ortNode.Tensor('float32', values(12, 1), [3, 4]) as OrtTensor,
  b: values(5, 2),
});
const gradsAt = (step: number) => ({ w: values(12, 100 + step), b: values(5, 200 + step) });
const options = { lr: 0.05, weightDecay: 0.01, warmupSteps: 2 };
const lrs = [0.05, 0.01, 0.2];

async function host(record: Record<string, OrtTensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(record)) out[k] = Array.from((await t.getData()) as Float32Array);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ScheduleFreeError);
  return error as ScheduleFreeError;
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const runtimes = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web (wasm)', ortWeb],
] as const;

describe.each(runtimes)('call order on %s', (_name, ort) => {
  it('three un-awaited steps with a different lr set before each equal the awaited sequence, bit for bit', async () => {
    const awaited = await AdamWScheduleFree.create(ort, start(), options);
    await awaited.train();
    for (const [s, lr] of lrs.entries()) {
      awaited.paramGroups[0].lr = lr;
      await awaited.step(gradsAt(s));
    }
    const want = { params: await host(await awaited.params()), state: await awaited.stateDict() };

    const queued = await AdamWScheduleFree.create(ort, start(), options);
    void queued.train();
    const steps = lrs.map((lr, s) => {
      queued.paramGroups[0].lr = lr;
      return queued.step(gradsAt(s));
    });
    const params = queued.params();
    expect(await Promise.all(steps)).toEqual([true, true, true]);
    expect(await host(await params)).toEqual(want.params);
    expect((await queued.stateDict()).state).toEqual(want.state.state);
    expect(queued.groupState()).toEqual(awaited.groupState());
    await Promise.all([awaited.dispose(), queued.dispose()]);
  });

  it('takes the gradients when step is called: refilling the buffers afterwards changes nothing', async () => {
    const reference = await AdamWScheduleFree.create(ort, start(), options);
    await reference.train();
    await reference.step(gradsAt(0));

    const opt = await AdamWScheduleFree.create(ort, start(), options);
    void opt.train();
    const g = gradsAt(0);
    const grads = { w: new ort.Tensor('float32', g.w, [3, 4]) as OrtTensor, b: g.b };
    const stepped = opt.step(grads);
    g.w.fill(1e6);
    g.b.fill(Number.NaN);
    expect(await stepped).toBe(true);
    expect(await host(await opt.params())).toEqual(await host(await reference.params()));
    await Promise.all([reference.dispose(), opt.dispose()]);
  });

  it('a step or loadStateDict called while a closure step is pending waits for it', async () => {
    const awaited = await AdamWScheduleFreeClosure.create(ort, start(), options);
    await awaited.step(() => gradsAt(0));
    await awaited.step(() => gradsAt(1));
    const want = await host(await awaited.params());

    const opt = await AdamWScheduleFreeClosure.create(ort, start(), options);
    const saved: StateDict = await opt.stateDict();
    const log: string[] = [];
    const first = gate();
    const running = gate();
    const one = opt.step(async () => {
      log.push('closure 1');
      running.open();
      await first.opened;
      log.push('closure 1 returns');
      return gradsAt(0);
    });
    // Called while the first closure is running (not merely queued).
    await running.opened;
    const two = opt.step(() => {
      log.push('closure 2');
      return gradsAt(1);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toEqual(['closure 1']);
    first.open();
    await Promise.all([one, two]);
    expect(log).toEqual(['closure 1', 'closure 1 returns', 'closure 2']);
    expect(await host(await opt.params())).toEqual(want);

    // loadStateDict called during a pending closure step takes effect after it.
    const third = gate();
    const thirdRunning = gate();
    const three = opt.step(async () => {
      thirdRunning.open();
      await third.opened;
      return gradsAt(2);
    });
    await thirdRunning.opened;
    const loaded = opt.loadStateDict(saved);
    third.open();
    await Promise.all([three, loaded]);
    expect(opt.groupState().k).toBe(0);
    expect(await opt.stateDict()).toEqual(saved);
    await Promise.all([awaited.dispose(), opt.dispose()]);
  });

  it('calls made before dispose() complete; calls after it are refused', async () => {
    const reference = await AdamWScheduleFree.create(ort, start(), options);
    await reference.train();
    await reference.step(gradsAt(0));
    const want = await host(await reference.params());

    const opt = await AdamWScheduleFree.create(ort, start(), options);
    const trained = opt.train();
    const stepped = opt.step(gradsAt(0));
    const params = opt.params();
    const state = opt.stateDict();
    const disposed = opt.dispose();
    await trained;
    expect(await stepped).toBe(true);
    expect(await host(await params)).toEqual(want);
    expect((await state).groups[0].counters.k).toBe(1);
    await disposed;
    expect(opt.isDisposed).toBe(true);
    const late = await rejection(opt.step(gradsAt(1)));
    expect(late.code).toBe('DISPOSED');
    expect(late.message).toMatch(/after dispose\(\)/);
    await reference.dispose();
  });

  it('a closure that sets an invalid lr gets INVALID_OPTION, with nothing changed', async () => {
    const opt = await AdamWScheduleFreeClosure.create(ort, start(), options);
    await opt.step(() => gradsAt(0));
    const before = { params: await host(await opt.params()), state: await opt.stateDict() };
    // Calls from inside a closure are refused (they would run in the middle of the step).
    let inner: unknown;
    await opt.step(() => {
      inner = opt.stateDict().then(
        () => null,
        (e: unknown) => e,
      );
      return gradsAt(1);
    });
    expect(((await inner) as Error).message).toMatch(/from inside the function passed to step\(closure\)/);
    before.params = await host(await opt.params());
    before.state = await opt.stateDict();
    for (const bad of [Number.NaN, -1]) {
      const error = await rejection(
        opt.step(() => {
          opt.paramGroups[0].lr = bad;
          return gradsAt(1);
        }),
      );
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/"lr"/);
      opt.paramGroups[0].lr = options.lr;
      expect(await host(await opt.params())).toEqual(before.params);
      expect(await opt.stateDict()).toEqual(before.state);
    }
    await opt.step(() => gradsAt(2));
    expect(opt.groupState().k).toBe(3);
    await opt.dispose();
  });
});
