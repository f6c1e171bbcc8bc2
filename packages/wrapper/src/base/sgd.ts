import { boolean, type Counters, inRange, nonNegative } from '@schedulefree/core';
import { lrRule, weightDecayRule } from './hints.js';
import type { BaseAlgorithm } from './types.js';

/** Options of {@link SGDAlgorithm} (PyTorch `torch.optim.SGD`). */
export interface SGDOptions {
  lr: number;
  /** Heavy-ball momentum (0: none). */
  momentum: number;
  /** Fraction of the gradient withheld from the momentum buffer. */
  dampening: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

/**
 * SGD with PyTorch's semantics: `g ← g + λp`; with momentum `b ← μb + (1−τ)g` (b = g on the first
 * step), `g ← g + μb` (Nesterov) or `g ← b`; then `p ← p − γg`.
 */
export const SGDAlgorithm: BaseAlgorithm<SGDOptions> = {
  name: 'SGD',
  defaults: { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  schema: {
    lr: lrRule,
    momentum: [nonNegative, 'Pass a momentum ≥ 0 (0 disables it; typical 0.9).'],
    dampening: [inRange(0, 1), 'Pass a dampening in [0, 1].'],
    weightDecay: weightDecayRule,
    nesterov: [boolean, 'Nesterov momentum needs momentum > 0 and dampening 0.'],
  },
  slots: (o) => (o.momentum !== 0 ? [{ name: 'momentumBuffer', init: 'zeros' }] : []),
  initialCounters: () => ({ step: 0 }),
  crossCheck: (o) =>
    o.nesterov && (o.momentum <= 0 || o.dampening !== 0)
      ? `option "nesterov" needs momentum > 0 and dampening 0, got momentum ${o.momentum} and dampening ${o.dampening}.`
      : null,
  plan(o, counters: Counters) {
    const first = counters.step === 0;
    const structure = `${o.weightDecay !== 0 ? 'wd' : ''}${o.momentum !== 0 ? (o.nesterov ? 'n' : 'm') : ''}`;
    // The first momentum step copies g into the buffer: 0·b + 1·g reproduces that exactly.
    const scalars = {
      lr: o.lr,
      wd: o.weightDecay,
      keep: first ? 0 : o.momentum,
      take: first ? 1 : 1 - o.dampening,
      momentum: o.momentum,
    };
    return { structure, scalars, counters: { step: counters.step + 1 } };
  },
  signature(structure) {
    const momentum = /[mn]/.test(structure);
    return {
      slots: momentum ? ['momentumBuffer'] : [],
      scalars: [
        'lr',
        ...(structure.includes('wd') ? ['wd'] : []),
        ...(momentum ? ['keep', 'take'] : []),
        ...(structure.includes('n') ? ['momentum'] : []),
      ],
    };
  },
  update(ops, structure, t, s) {
    let g = structure.includes('wd') ? ops.add(t.grad, ops.mulScalar(t.param, s.wd)) : t.grad;
    const state: Record<string, (typeof t)[string]> = {};
    if (/[mn]/.test(structure)) {
      state.momentumBuffer = ops.add(ops.mulScalar(t.momentumBuffer, s.keep), ops.mulScalar(g, s.take));
      g = structure.includes('n')
        ? ops.add(g, ops.mulScalar(state.momentumBuffer, s.momentum))
        : state.momentumBuffer;
    }
    return { param: ops.sub(t.param, ops.mulScalar(g, s.lr)), ...state };
  },
  effectiveLr: (o) => o.lr,
};
