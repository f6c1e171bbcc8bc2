import { biasCorrection, type Counters, inRange, pair, positive } from '@schedulefree/core';
import { lrRule, weightDecayRule } from './hints.js';
import type { BaseAlgorithm } from './types.js';

/** Options of {@link AdamAlgorithm} and {@link AdamWAlgorithm} (PyTorch `Adam`, `AdamW`). */
export interface AdamOptions {
  lr: number;
  /** `[β1, β2]`: decays of the first and second moment estimates. */
  betas: [number, number];
  eps: number;
  /** Adam: L2 penalty added to the gradient. AdamW: decoupled decay `p ← p(1 − γλ)`. */
  weightDecay: number;
}

const betasRule = [
  pair(inRange(0, 1, { hi: true }), inRange(0, 1, { hi: true })),
  'Both betas must be in [0, 1); typical [0.9, 0.999].',
] as const;

function adamVariant(name: 'Adam' | 'AdamW', defaults: AdamOptions): BaseAlgorithm<AdamOptions> {
  const decoupled = name === 'AdamW';
  return {
    name,
    defaults,
    schema: {
      lr: lrRule,
      betas: betasRule,
      eps: [positive, 'Pass a small positive number such as 1e-8.'],
      weightDecay: weightDecayRule,
    },
    slots: () => [
      { name: 'expAvg', init: 'zeros' },
      { name: 'expAvgSq', init: 'zeros' },
    ],
    initialCounters: () => ({ step: 0 }),
    plan(o, counters: Counters) {
      const step = counters.step + 1;
      const [beta1, beta2] = o.betas;
      const decay = o.weightDecay !== 0 ? (decoupled ? 'dw' : 'l2') : '';
      const scalars = {
        oneMinusBeta1: 1 - beta1,
        beta2,
        oneMinusBeta2: 1 - beta2,
        sqrtBc2: Math.sqrt(biasCorrection(beta2, step)),
        eps: o.eps,
        stepSize: o.lr / biasCorrection(beta1, step),
        wd: o.weightDecay,
        shrink: 1 - o.lr * o.weightDecay,
      };
      return { structure: decay, scalars, counters: { step } };
    },
    signature: (structure) => ({
      slots: ['expAvg', 'expAvgSq'],
      scalars: [
        'oneMinusBeta1',
        'beta2',
        'oneMinusBeta2',
        'sqrtBc2',
        'eps',
        'stepSize',
        ...(structure === 'l2' ? ['wd'] : structure === 'dw' ? ['shrink'] : []),
      ],
    }),
    update(ops, structure, t, s) {
      const param = structure === 'dw' ? ops.mulScalar(t.param, s.shrink) : t.param;
      const g = structure === 'l2' ? ops.add(t.grad, ops.mulScalar(t.param, s.wd)) : t.grad;
      const expAvg = ops.lerp(t.expAvg, g, s.oneMinusBeta1);
      const expAvgSq = ops.add(
        ops.mulScalar(t.expAvgSq, s.beta2),
        ops.mulScalar(ops.mul(g, g), s.oneMinusBeta2),
      );
      const denom = ops.addScalar(ops.divScalar(ops.sqrt(expAvgSq), s.sqrtBc2), s.eps);
      return { param: ops.sub(param, ops.mulScalar(ops.div(expAvg, denom), s.stepSize)), expAvg, expAvgSq };
    },
    effectiveLr: (o) => o.lr,
  };
}

/**
 * Adam with PyTorch's semantics: `m ← lerp(m, g, 1−β1)`, `v ← β2v + (1−β2)g²`,
 * `p ← p − (γ/(1−β1^t))·m / (sqrt(v)/sqrt(1−β2^t) + ε)`; weight decay is an L2 term in g.
 */
export const AdamAlgorithm = adamVariant('Adam', {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
});

/** AdamW: Adam with decoupled decay `p ← p(1 − γλ)` before the step (PyTorch default λ = 0.01). */
export const AdamWAlgorithm = adamVariant('AdamW', {
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 1e-2,
});
