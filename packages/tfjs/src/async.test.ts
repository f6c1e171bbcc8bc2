import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { AdamWScheduleFree, ScheduleFreeError, SGDScheduleFree } from './index.js';
import { expectCheckedAsyncSteps } from './test-support/async-steps.js';
import {
  expectCallsBeforeDisposeComplete,
  expectCallsWaitForPendingClosureStep,
  expectClosureOptionsChecked,
  expectGradientsCapturedAtCall,
  expectUnawaitedStepsInOrder,
} from './test-support/call-order.js';
import { quadratic, sameBits } from './test-support/problem.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected a rejection');
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`asynchronous steps on ${backend}`, () => {
    it('check exactly: NaN/Infinity throw or skip with nothing changed; finite steps equal the synchronous ones', async () => {
      await tf.setBackend(backend);
      await expectCheckedAsyncSteps();
    });

    it('report bad gradients like the synchronous steps, as rejections that change nothing', async () => {
      await tf.setBackend(backend);
      const q = quadratic(3);
      cleanups.push(q.dispose);
      const opt = new AdamWScheduleFree({ lr: 0.1 }).train();
      cleanups.push(() => opt.dispose());
      const g = q.grads();
      cleanups.push(() => tf.dispose(Object.values(g)));
      await opt.applyGradientsAsync(g);
      const before = q.read();
      const extra = tf.zeros([2]);
      const wrong = tf.zeros([4], 'int32');
      cleanups.push(() => tf.dispose([extra, wrong]));
      const bad: Array<[tf.NamedTensorMap, string, RegExp]> = [
        [{ ...g, nope: extra }, 'UNKNOWN_PARAM', /nope/],
        [{ [q.w.name]: g[q.w.name] }, 'MISSING_GRAD', new RegExp(q.b.name)],
        [{ ...g, [q.b.name]: wrong }, 'DTYPE_MISMATCH', /int32/],
      ];
      for (const [grads, code, pattern] of bad) {
        const error = await rejection(opt.applyGradientsAsync(grads));
        expect(error.code).toBe(code);
        expect(error.message).toMatch(pattern);
        expect(sameBits(q.read(), before)).toBe(true);
      }
      expect(opt.groupState().k).toBe(1);
    });

    it('while one is pending, a synchronous call is refused (await it first); calls made before dispose() complete', async () => {
      await tf.setBackend(backend);
      const q = quadratic(4);
      cleanups.push(q.dispose);
      const opt = new SGDScheduleFree({ lr: 0.1 });
      cleanups.push(() => opt.dispose());
      await opt.minimizeAsync(q.loss);
      const pending = opt.minimizeAsync(q.loss);
      expect(() => opt.minimize(q.loss)).toThrow(
        /minimize\(\) was called while minimizeAsync\(\) has not finished\. Await it/,
      );
      expect(() => opt.train()).toThrow(ScheduleFreeError);
      expect(() => opt.evalParams()).toThrow(ScheduleFreeError);
      await pending;
      expect(opt.groupState().k).toBe(2);
      const x = q.read();
      const beforeDispose = opt.minimizeAsync(q.loss);
      opt.dispose();
      expect((await rejection(opt.minimizeAsync(q.loss))).code).toBe('DISPOSED');
      await beforeDispose;
      expect(sameBits(q.read(), x)).toBe(false); // the step took effect, and left x in the variables
    });

    it('take effect in call order: un-awaited steps with the lr set before each equal the awaited ones, bit for bit', async () => {
      await tf.setBackend(backend);
      await expectUnawaitedStepsInOrder();
    });

    it('capture gradient values at the call: changing or releasing them afterwards does not change the step', async () => {
      await tf.setBackend(backend);
      await expectGradientsCapturedAtCall();
    });

    it('an applyGradientsAsync called while a minimizeAsync is pending waits for it', async () => {
      await tf.setBackend(backend);
      await expectCallsWaitForPendingClosureStep();
    });

    it('calls made before dispose() complete; later ones are DISPOSED; nothing leaks', async () => {
      await tf.setBackend(backend);
      await expectCallsBeforeDisposeComplete();
    });

    it('a closure that sets an invalid lr gets INVALID_OPTION, and nothing changes', async () => {
      await tf.setBackend(backend);
      await expectClosureOptionsChecked(true);
    });

    it('with checkFinite: false they are the synchronous steps (NaN goes through)', async () => {
      await tf.setBackend(backend);
      const q = quadratic(5);
      cleanups.push(q.dispose);
      const opt = new SGDScheduleFree({ lr: 0.1, checkFinite: false }).train();
      cleanups.push(() => opt.dispose());
      const nan = { [q.w.name]: tf.fill([3, 2], Number.NaN), [q.b.name]: tf.zeros([4]) };
      cleanups.push(() => tf.dispose(Object.values(nan)));
      await opt.applyGradientsAsync(nan);
      expect(Number.isNaN(q.read().w[0])).toBe(true);
    });

    it('stateDictAsync() equals stateDict(), and is the state once the calls made before it have taken effect', async () => {
      await tf.setBackend(backend);
      const q = quadratic(6);
      cleanups.push(q.dispose);
      const opt = new AdamWScheduleFree({ lr: 0.1, innerMomentum: 0.5 }).train();
      cleanups.push(() => opt.dispose());
      for (let i = 0; i < 3; i++) await opt.minimizeAsync(q.loss);
      const sync = opt.stateDict();
      const pending = opt.stateDictAsync();
      expect(() => opt.minimize(q.loss)).toThrow(/stateDictAsync\(\) has not finished/);
      const later = opt.minimizeAsync(q.loss); // a later step does not leak into the state already asked for
      expect(await pending).toEqual(sync);
      await later;
      expect(await opt.stateDictAsync()).not.toEqual(sync);
    });
  });
}
