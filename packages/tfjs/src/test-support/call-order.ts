import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { AdamWScheduleFree, ScheduleFreeError } from '../index.js';

/**
 * The engine's policy for the asynchronous steps (`applyGradientsAsync`, `minimizeAsync`), checked
 * on the current backend with asynchronous reads only: calls take effect in the order they are
 * made, each with the options and gradient values of the moment it was made; calls made while a
 * step is pending wait for it (synchronous ones are refused); calls made before `dispose()`
 * complete; a closure that sets an invalid learning rate changes nothing.
 */

let uid = 0;

function problem() {
  const id = ++uid;
  const w = tf.variable(tf.tensor2d([1, -2, 3, 0.5, -0.25, 2], [3, 2]), true, `order-w-${id}`);
  const b = tf.variable(tf.tensor1d([0.1, -0.3]), true, `order-b-${id}`);
  const loss = () =>
    tf.tidy(() => tf.add(tf.sum(tf.square(tf.sub(w, 0.5))), tf.sum(tf.square(b)))) as tf.Scalar;
  /** A different gradient per step s. */
  const grads = (s: number) => ({
    [w.name]: tf.fill([3, 2], 0.1 * (s + 1)),
    [b.name]: tf.tensor1d([0.2 * s - 0.1, 0.05 * s]),
  });
  const read = async () =>
    (await Promise.all([w.data(), b.data()])).flatMap((d) => Array.from(d as Float32Array));
  return { w, b, loss, grads, read, dispose: () => tf.dispose([w, b]) };
}

const LRS = [0.1, 0.02, 0.3];

/** Three steps with the lr set before each: awaited one by one, un-awaited, or all at the last lr. */
async function threeSteps(how: 'awaited' | 'unawaited' | 'last-lr') {
  const p = problem();
  const opt = new AdamWScheduleFree({ lr: 0.05, warmupSteps: 2 }).train();
  const grads = LRS.map((_, s) => p.grads(s));
  try {
    if (how === 'awaited') {
      for (const [s, lr] of LRS.entries()) {
        opt.setLearningRate(lr);
        await opt.applyGradientsAsync(grads[s]);
      }
    } else {
      const calls = LRS.map((lr, s) => {
        opt.setLearningRate(how === 'last-lr' ? LRS[2] : lr);
        return opt.applyGradientsAsync(grads[s]);
      });
      await Promise.all(calls);
    }
    await opt.ready();
    return { values: await p.read(), counters: opt.groupState() };
  } finally {
    opt.dispose();
    tf.dispose(grads.flatMap(Object.values));
    p.dispose();
  }
}

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): ScheduleFreeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected an error');
}

/** Un-awaited calls with a different lr set before each equal the awaited sequence, bit for bit. */
export async function expectUnawaitedStepsInOrder(): Promise<void> {
  const awaited = await threeSteps('awaited');
  expect(await threeSteps('unawaited')).toEqual(awaited);
  // The check can fail: steps that all used the last lr end elsewhere.
  expect((await threeSteps('last-lr')).values).not.toEqual(awaited.values);
}

/** A gradient changed or released after an un-awaited call does not change that call's step. */
export async function expectGradientsCapturedAtCall(): Promise<void> {
  const run = async (change: boolean) => {
    const p = problem();
    const opt = new AdamWScheduleFree({ lr: 0.05 }).train();
    const first = p.grads(0);
    const g = tf.variable(tf.fill([3, 2], 0.7), false);
    const gb = tf.tensor1d([0.3, -0.2]);
    const steps = [
      opt.applyGradientsAsync(first),
      opt.applyGradientsAsync({ [p.w.name]: g, [p.b.name]: gb }),
    ];
    if (change) {
      const refill = tf.fill([3, 2], 100);
      g.assign(refill); // refilled after the call, before the step takes effect
      refill.dispose();
      gb.dispose(); // released by the caller after the call
    }
    await Promise.all(steps);
    const values = await p.read();
    opt.dispose();
    tf.dispose([g, gb, ...Object.values(first)]);
    p.dispose();
    return values;
  };
  expect(await run(true)).toEqual(await run(false));
}

/**
 * A step called while a `minimizeAsync` is pending (behind another call) waits for it; synchronous
 * calls meanwhile are refused; the result is the awaited sequence's.
 */
export async function expectCallsWaitForPendingClosureStep(): Promise<void> {
  const run = async (awaited: boolean) => {
    const p = problem();
    const opt = new AdamWScheduleFree({ lr: 0.05 }).train();
    const g0 = p.grads(0);
    const g1 = p.grads(1);
    await opt.applyGradientsAsync(g0);
    let closureCalls = 0;
    const f = () => {
      closureCalls++;
      return p.loss();
    };
    if (awaited) {
      await opt.minimizeAsync(f);
      await opt.applyGradientsAsync(g1);
    } else {
      const state = opt.stateDictAsync(); // the queue is busy: the closure step waits behind it
      const closureStep = opt.minimizeAsync(f);
      const step = opt.applyGradientsAsync(g1);
      expect(closureCalls).toBe(0);
      expect(thrown(() => opt.applyGradients(g1)).message).toMatch(
        /applyGradients\(\) was called while .*has not finished\. Await it/,
      );
      expect(thrown(() => opt.eval()).code).toBe('UNSUPPORTED');
      await Promise.all([state, closureStep, step]);
    }
    expect(closureCalls).toBe(1);
    const values = await p.read();
    opt.dispose();
    tf.dispose([...Object.values(g0), ...Object.values(g1)]);
    p.dispose();
    return values;
  };
  expect(await run(false)).toEqual(await run(true));
}

/** Calls made before `dispose()` complete; calls after it are `DISPOSED`; nothing leaks. */
export async function expectCallsBeforeDisposeComplete(): Promise<void> {
  const run = async (disposeEarly: boolean) => {
    const p = problem();
    const start = tf.memory().numTensors;
    const opt = new AdamWScheduleFree({ lr: 0.05 });
    const g = p.grads(2);
    await opt.minimizeAsync(p.loss);
    opt.train();
    const calls = [opt.applyGradientsAsync(g), opt.minimizeAsync(p.loss)];
    if (disposeEarly) {
      opt.dispose();
      expect((await rejection(opt.applyGradientsAsync(g))).code).toBe('DISPOSED');
      expect(thrown(() => opt.minimize(p.loss)).code).toBe('DISPOSED');
    }
    await Promise.all(calls);
    if (!disposeEarly) opt.dispose();
    await opt.ready();
    const values = await p.read();
    tf.dispose(Object.values(g));
    expect(tf.memory().numTensors).toBe(start);
    p.dispose();
    return values;
  };
  expect(await run(true)).toEqual(await run(false));
}

/**
 * A closure (`minimize`'s f) that sets an invalid lr gets `INVALID_OPTION` naming it, and nothing
 * changes: variables (x restored in eval mode), counters, state. `sync` includes `minimize` itself.
 */
export async function expectClosureOptionsChecked(sync: boolean): Promise<void> {
  for (const mode of ['eval', 'train'] as const) {
    for (const how of sync ? (['async', 'sync'] as const) : (['async'] as const)) {
      const p = problem();
      const opt = new AdamWScheduleFree({ lr: 0.05 });
      if (mode === 'train') opt.train();
      await opt.minimizeAsync(p.loss);
      await opt.minimizeAsync(p.loss);
      const before = { values: await p.read(), state: await opt.stateDictAsync() };
      const bad = () => {
        (opt.paramGroups[0] as { lr: number }).lr = -1;
        return p.loss();
      };
      const error =
        how === 'sync' ? thrown(() => opt.minimize(bad)) : await rejection(opt.minimizeAsync(bad));
      expect(error.code).toBe('INVALID_OPTION');
      expect(error.message).toMatch(/"lr"/);
      (opt.paramGroups[0] as { lr: number }).lr = 0.05;
      expect({ values: await p.read(), state: await opt.stateDictAsync() }).toEqual(before);
      expect(opt.mode).toBe(mode);
      opt.dispose();
      p.dispose();
    }
  }
}
