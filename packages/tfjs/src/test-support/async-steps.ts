import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { ScheduleFreeError } from '../index.js';
import { AdamWScheduleFree } from '../index.js';

let uid = 0;
const values = async (t: tf.Tensor) => Array.from((await t.data()) as Float32Array);

/**
 * Six AdamW steps on the current backend: three `minimize` steps in eval mode (the closure form),
 * then three `applyGradients` steps in train mode. `'sync'` takes them unchecked (`checkFinite:
 * false`); `'async'` takes them with `minimizeAsync`/`applyGradientsAsync` and, before every step
 * but the first, tries a step whose gradient holds NaN, +Infinity or −Infinity, which must change
 * nothing (checked here: an Error is thrown otherwise). Returns the values after each step and the
 * error code (or `'none'`) of each poisoned step.
 */
export async function asyncStepRun(
  mode: 'sync' | 'async',
  options: { nonFiniteGrads?: 'throw' | 'skip' } = {},
): Promise<{ trajectory: number[][]; errors: string[] }> {
  const id = ++uid;
  const w = tf.variable(tf.tensor2d([1, -2, 3, 0.5, -0.25, 2], [3, 2]), true, `async-steps-w-${id}`);
  const b = tf.variable(tf.tensor1d([0.1, -0.3]), true, `async-steps-b-${id}`);
  const loss = (scale = 1) =>
    tf.tidy(() =>
      tf.mul(tf.add(tf.sum(tf.square(tf.sub(w, 0.5))), tf.sum(tf.square(b))), scale),
    ) as tf.Scalar;
  const opt = new AdamWScheduleFree({
    lr: 0.05,
    warmupSteps: 2,
    weightDecay: 0.01,
    checkFinite: mode === 'async',
    ...options,
  });
  const trajectory: number[][] = [];
  const errors: string[] = [];
  const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  try {
    for (let i = 0; i < 6; i++) {
      if (i === 3) opt.train();
      if (mode === 'async' && i > 0) {
        const before = JSON.stringify([await values(w), await values(b)]);
        const k = opt.groupState().k;
        const poisoned = bad[i % 3];
        const grads = { [w.name]: tf.fill([3, 2], 0.1), [b.name]: tf.tensor1d([0.2, poisoned]) };
        try {
          if (i < 3) await opt.minimizeAsync(() => loss(poisoned));
          else await opt.applyGradientsAsync(grads);
          errors.push('none');
        } catch (error) {
          errors.push(`${(error as ScheduleFreeError).code}`);
        } finally {
          tf.dispose(Object.values(grads));
        }
        const after = JSON.stringify([await values(w), await values(b)]);
        if (after !== before || opt.groupState().k !== k)
          throw new Error(`step ${i + 1}: a non-finite gradient (${poisoned}) changed the state`);
      }
      if (i < 3) {
        if (mode === 'async') await opt.minimizeAsync(() => loss());
        else opt.minimize(() => loss());
      } else {
        const { value, grads } = tf.variableGrads(() => loss(), [w, b]);
        value.dispose();
        if (mode === 'async') await opt.applyGradientsAsync(grads);
        else opt.applyGradients(grads);
        tf.dispose(grads);
      }
      trajectory.push([...(await values(w)), ...(await values(b))]);
    }
  } finally {
    opt.dispose();
    tf.dispose([w, b]);
  }
  return { trajectory, errors };
}

/**
 * The checked asynchronous steps on the current backend: every poisoned step throws
 * `NON_FINITE_GRAD` (or is skipped with `nonFiniteGrads: 'skip'`) changing nothing, and the finite
 * steps are the synchronous ones, bit for bit.
 */
export async function expectCheckedAsyncSteps(): Promise<void> {
  const sync = await asyncStepRun('sync');
  const checked = await asyncStepRun('async');
  const skipping = await asyncStepRun('async', { nonFiniteGrads: 'skip' });
  expect(sync.trajectory.flat().every(Number.isFinite)).toBe(true);
  expect(sync.trajectory[5]).not.toEqual(sync.trajectory[0]);
  expect(checked.trajectory).toEqual(sync.trajectory);
  expect(skipping.trajectory).toEqual(sync.trajectory);
  expect(checked.errors).toEqual(Array(5).fill('NON_FINITE_GRAD'));
  expect(skipping.errors).toEqual(Array(5).fill('none'));
}
