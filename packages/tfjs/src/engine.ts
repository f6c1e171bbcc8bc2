import {
  type Counters,
  check,
  composeRuns,
  LegacyScheduleFreeOptimizer,
  type Mode,
} from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';

/** Everything the engine holds beyond the parameters, with live tensors (see {@link TfjsEngine.snapshot}). */
export interface EngineSnapshot {
  mode: Mode;
  groups: Array<{ options: Record<string, unknown>; counters: Counters; initialized: boolean }>;
  /** Per parameter: its group and state tensors by slot name (empty while its group is uninitialized). */
  params: Array<{ name: string; group: number; slots: Record<string, tf.Tensor> }>;
}

/**
 * The core engine with the extra moves a tfjs optimizer needs: applyGradients with tfjs wording,
 * the eval-mode step of `minimize` (gradients at y, parameters left at x, in one fused program per
 * variable), and direct access to the state tensors for `getWeights`/`setWeights`.
 */
export class TfjsEngine<O extends object> extends LegacyScheduleFreeOptimizer<tf.Tensor, O> {
  /** A train-mode step from `applyGradients`/`minimize`; false if skipped for non-finite gradients. */
  stepAtY(grads: Readonly<Record<string, tf.Tensor>>, method: string): boolean {
    this.ensureUsable(method);
    check(
      this.currentMode === 'train',
      'WRONG_MODE',
      () =>
        `${this.algorithm.name}.${method}() was called in eval mode, where the variables hold x (the average). Call optimizer.train() before training steps (and optimizer.eval() before evaluating, predicting or saving), or use optimizer.minimize(f), which takes the step in eval mode and leaves the variables at x.`,
    );
    this.validateGroups();
    if (!this.checkGrads(grads, method)) return false;
    this.applyStep(grads);
    return true;
  }

  /** Checks options before the variables are moved for an eval-mode step. */
  prepareEvalStep(method: string): void {
    this.ensureUsable(method);
    check(this.currentMode === 'eval', 'WRONG_MODE', () => `${method}: expected eval mode`);
    this.validateGroups();
  }

  /** Moves the variables to y without changing the mode (the first half of an eval-mode step). */
  moveToY(): void {
    this.moveAll('y');
  }

  /**
   * The second half of an eval-mode step: the variables hold y and `grads` were taken there. Runs
   * each group's step and its move to x as one program. Returns false (nothing changed) if skipped
   * for non-finite gradients; throws (nothing changed) on bad gradients.
   */
  stepFromYToX(grads: Readonly<Record<string, tf.Tensor>>, method: string): boolean {
    if (!this.checkGrads(grads, method)) return false;
    const plans = this.paramGroups.map((g, gi) => this.algorithm.planStep(g, this.counters[gi]));
    plans.forEach((plan, gi) => {
      if (!this.initialized[gi]) this.initState(gi);
      const run = composeRuns(plan, this.algorithm.moveTo(this.paramGroups[gi], 'x'));
      this.runOnGroup(gi, run, (e) => ({ ...e.slots, grad: grads[e.name] }));
    });
    this.counters = plans.map((p) => p.counters);
    return true;
  }

  /** The state with live tensors (owned by the engine: do not dispose). */
  snapshot(): EngineSnapshot {
    this.ensureUsable('getWeights');
    return {
      mode: this.currentMode,
      groups: this.paramGroups.map((g, gi) => {
        const { params: _names, ...options } = g as typeof g & Record<string, unknown>;
        return {
          options: structuredClone(options),
          counters: { ...this.counters[gi] },
          initialized: this.initialized[gi],
        };
      }),
      params: this.entries.map((e) => {
        const { param: _param, ...slots } = e.slots;
        return { name: e.name, group: e.group, slots };
      }),
    };
  }

  /**
   * Takes over restored state: counters, initialization, the mode and, per parameter (by name), its
   * state tensors, which the engine owns from now on. The caller has checked everything.
   */
  adoptState(state: EngineSnapshot): void {
    this.ensureUsable('setWeights');
    state.groups.forEach((g, gi) => {
      this.counters[gi] = { ...g.counters };
      this.initialized[gi] = g.initialized;
    });
    for (const p of state.params) {
      const entry = this.byName.get(p.name)!;
      for (const [slot, tensor] of Object.entries(entry.slots))
        if (slot !== 'param') this.ops.dispose(tensor);
      entry.slots = { param: entry.slots.param, ...p.slots };
    }
    this.currentMode = state.mode;
  }
}
