import { boolean, type Counters, inRange, nonNegative, positive } from '@schedulefree/core';
import { lrRule, weightDecayRule } from './hints.js';
import type { BaseAlgorithm } from './types.js';

/** Options of {@link RMSpropAlgorithm} (PyTorch `torch.optim.RMSprop`). */
export interface RMSpropOptions {
  lr: number;
  /** Decay of the squared-gradient average. */
  alpha: number;
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Momentum on the normalised step (0: none). */
  momentum: number;
  /** Normalise by the variance estimate (subtract the squared mean gradient). */
  centered: boolean;
}

/**
 * RMSprop with PyTorch's semantics: `s ← αs + (1−α)g²`; the denominator is `sqrt(s) + ε` (or
 * `sqrt(s − ḡ²) + ε` centred, with `ḡ ← lerp(ḡ, g, 1−α)`); with momentum `b ← μb + g/denom` and
 * `p ← p − γb`, else `p ← p − γ·g/denom`.
 */
export const RMSpropAlgorithm: BaseAlgorithm<RMSpropOptions> = {
  name: 'RMSprop',
  defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
  schema: {
    lr: lrRule,
    alpha: [inRange(0, 1), 'Pass α in [0, 1]; typical 0.99.'],
    eps: [positive, 'Pass a small positive number such as 1e-8.'],
    weightDecay: weightDecayRule,
    momentum: [nonNegative, 'Pass a momentum ≥ 0 (0 disables it).'],
    centered: [boolean, 'Pass true or false.'],
  },
  slots: (o) => [
    { name: 'squareAvg', init: 'zeros' },
    ...(o.momentum > 0 ? [{ name: 'momentumBuffer', init: 'zeros' } as const] : []),
    ...(o.centered ? [{ name: 'gradAvg', init: 'zeros' } as const] : []),
  ],
  initialCounters: () => ({ step: 0 }),
  plan(o, counters: Counters) {
    const structure = `${o.weightDecay !== 0 ? 'wd' : ''}${o.momentum > 0 ? 'm' : ''}${o.centered ? 'c' : ''}`;
    const scalars = {
      lr: o.lr,
      alpha: o.alpha,
      oneMinusAlpha: 1 - o.alpha,
      eps: o.eps,
      wd: o.weightDecay,
      momentum: o.momentum,
    };
    return { structure, scalars, counters: { step: counters.step + 1 } };
  },
  signature: (structure) => ({
    slots: [
      'squareAvg',
      ...(structure.includes('m') ? ['momentumBuffer'] : []),
      ...(structure.includes('c') ? ['gradAvg'] : []),
    ],
    scalars: [
      'lr',
      'alpha',
      'oneMinusAlpha',
      'eps',
      ...(structure.includes('wd') ? ['wd'] : []),
      ...(structure.includes('m') ? ['momentum'] : []),
    ],
  }),
  update(ops, structure, t, s) {
    const g = structure.includes('wd') ? ops.add(t.grad, ops.mulScalar(t.param, s.wd)) : t.grad;
    const out: Record<string, (typeof t)[string]> = {};
    out.squareAvg = ops.add(
      ops.mulScalar(t.squareAvg, s.alpha),
      ops.mulScalar(ops.mul(g, g), s.oneMinusAlpha),
    );
    let variance = out.squareAvg;
    if (structure.includes('c')) {
      out.gradAvg = ops.lerp(t.gradAvg, g, s.oneMinusAlpha);
      variance = ops.sub(variance, ops.mul(out.gradAvg, out.gradAvg));
    }
    const denom = ops.addScalar(ops.sqrt(variance), s.eps);
    if (structure.includes('m')) {
      out.momentumBuffer = ops.add(ops.mulScalar(t.momentumBuffer, s.momentum), ops.div(g, denom));
      out.param = ops.sub(t.param, ops.mulScalar(out.momentumBuffer, s.lr));
    } else {
      out.param = ops.sub(t.param, ops.mulScalar(ops.div(g, denom), s.lr));
    }
    return out;
  },
  effectiveLr: (o) => o.lr,
};
