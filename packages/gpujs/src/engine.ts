import { check, LegacyScheduleFreeOptimizer } from '@schedulefree/core';
import type { GpuTensor } from './tensor.js';

/**
 * The core's engine over {@link GpuTensor} handles, with the few internals the asynchronous
 * wrappers need: the tensors it holds, and the closure step split around the user's (possibly
 * asynchronous) closure. Groups, counters, validation, modes and state dicts are the core's.
 */
export class GpuEngine<O extends object> extends LegacyScheduleFreeOptimizer<GpuTensor, O> {
  /** Every parameter and state tensor. */
  tensors(): GpuTensor[] {
    return this.entries.flatMap((e) => Object.values(e.slots));
  }

  /** The state tensors (not the parameters). */
  stateTensors(): GpuTensor[] {
    return this.entries.flatMap((e) =>
      Object.entries(e.slots)
        .filter(([k]) => k !== 'param')
        .map(([, t]) => t),
    );
  }

  /** Throws `DISPOSED`, naming `method`, after `dispose()`. */
  assertUsable(method: string): void {
    this.ensureUsable(method);
  }

  /** The same checks `step` makes before looking at the gradients. */
  assertCanStep(): void {
    this.ensureUsable('step');
    check(
      this.currentMode === 'train',
      'WRONG_MODE',
      () =>
        `${this.algorithm.name}.step() was called in eval mode. Call optimizer.train() before training steps, and optimizer.eval() before evaluating or saving.`,
    );
  }

  /** A step of a plain (not Schedule-Free) base algorithm: no modes, parameters are the iterate. */
  stepPlain(grads: Readonly<Record<string, GpuTensor>>): boolean {
    this.ensureUsable('step');
    this.validateGroups();
    if (!this.checkGrads(grads, 'step')) return false;
    this.applyStep(grads);
    return true;
  }

  /**
   * First half of a closure step (as the core's `ScheduleFreeClosureOptimizer.step`): back up the
   * parameters and move them to y. The returned object finishes the step with the closure's
   * gradients, or restores the parameters exactly if anything failed.
   */
  beginClosureStep(): { finish(grads: Readonly<Record<string, GpuTensor>>): boolean; restore(): void } {
    this.ensureUsable('step');
    this.validateGroups();
    const backup = this.entries.map((e) =>
      this.initialized[e.group] ? this.ops.clone(e.slots.param) : null,
    );
    let settled = false;
    const release = () => {
      settled = true;
      for (const copy of backup) if (copy) this.ops.dispose(copy);
    };
    const restore = () => {
      if (settled) return;
      this.entries.forEach((e, i) => {
        const copy = backup[i];
        if (copy) this.ops.assign(e.slots.param, copy);
      });
      release();
    };
    try {
      this.moveAll('y');
    } catch (error) {
      restore();
      throw error;
    }
    return {
      restore,
      finish: (grads) => {
        if (!this.checkGrads(grads, 'step')) {
          restore();
          return false;
        }
        release();
        this.applyStep(grads);
        return true;
      },
    };
  }
}
