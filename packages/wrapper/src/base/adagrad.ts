import { type Counters, nonNegative, positive } from '@schedulefree/core';
import { lrRule, weightDecayRule } from './hints.js';
import type { BaseAlgorithm } from './types.js';

/** Options of {@link AdagradAlgorithm} (PyTorch `torch.optim.Adagrad`). */
export interface AdagradOptions {
  lr: number;
  /** The step size is `lr / (1 + (t−1)·lrDecay)`. */
  lrDecay: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Starting value of the squared-gradient sum. */
  initialAccumulatorValue: number;
  eps: number;
}

/**
 * Adagrad with PyTorch's semantics: `g ← g + λp`, `Σ ← Σ + g²`,
 * `p ← p − (γ/(1 + (t−1)·decay))·g/(sqrt(Σ) + ε)`.
 */
export const AdagradAlgorithm: BaseAlgorithm<AdagradOptions> = {
  name: 'Adagrad',
  defaults: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
  schema: {
    lr: lrRule,
    lrDecay: [nonNegative, 'Pass a decay ≥ 0 (0 disables it).'],
    weightDecay: weightDecayRule,
    initialAccumulatorValue: [nonNegative, 'Pass a value ≥ 0 (default 0).'],
    eps: [positive, 'Pass a small positive number such as 1e-10.'],
  },
  slots: (o) => [{ name: 'sum', init: { fill: o.initialAccumulatorValue } }],
  initialCounters: () => ({ step: 0 }),
  plan(o, counters: Counters) {
    const step = counters.step + 1;
    const scalars = { clr: o.lr / (1 + (step - 1) * o.lrDecay), eps: o.eps, wd: o.weightDecay };
    return { structure: o.weightDecay !== 0 ? 'wd' : '', scalars, counters: { step } };
  },
  signature: (structure) => ({
    slots: ['sum'],
    scalars: ['clr', 'eps', ...(structure === 'wd' ? ['wd'] : [])],
  }),
  update(ops, structure, t, s) {
    const g = structure === 'wd' ? ops.add(t.grad, ops.mulScalar(t.param, s.wd)) : t.grad;
    const sum = ops.add(t.sum, ops.mul(g, g));
    const std = ops.addScalar(ops.sqrt(sum), s.eps);
    return { param: ops.sub(t.param, ops.mulScalar(ops.div(g, std), s.clr)), sum };
  },
  effectiveLr: (o) => o.lr,
};
