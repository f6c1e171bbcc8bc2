import { defineProgram, type ElementwiseProgram } from '../program.js';
import type { TensorOps } from '../tensor-ops.js';

/**
 * The elementwise programs of every Schedule-Free class. Each is built once per static structure
 * (which optional terms exist) and cached, so tracing backends compile each structure once.
 */

const cache = new Map<string, ElementwiseProgram>();
function cached(key: string, make: () => ElementwiseProgram): ElementwiseProgram {
  let program = cache.get(key);
  if (!program) {
    program = make();
    cache.set(key, program);
  }
  return program;
}

/** How the base direction u is formed from the gradient. */
export interface DirectionConfig {
  /** Keep a second-moment EMA `v` (Adam family). */
  readonly secondMoment: boolean;
  /** Divide by `sqrt(v/bc2) + eps` (false: RAdam's SGD phase, or plain SGD). */
  readonly normalize: boolean;
  /** Keep a first-moment EMA `m` and use `m/bc1` as numerator (AdamW's `innerMomentum`). */
  readonly innerMomentum: boolean;
}

const directionKey = (d: DirectionConfig) =>
  `${d.secondMoment ? 'v' : ''}${d.normalize ? 'n' : ''}${d.innerMomentum ? 'm' : ''}`;

function directionSlots(d: DirectionConfig): string[] {
  return [...(d.secondMoment ? ['v'] : []), ...(d.innerMomentum ? ['m'] : [])];
}

function directionScalars(d: DirectionConfig): string[] {
  return [
    ...(d.secondMoment ? ['beta2', 'oneMinusBeta2'] : []),
    ...(d.normalize ? ['bc2', 'eps'] : []),
    ...(d.innerMomentum ? ['mu', 'oneMinusMu', 'bc1'] : []),
  ];
}

/**
 * Base direction before weight decay, plus the updated moment buffers:
 * `v ← β2·v + (1−β2)·g²`, `u = g / (sqrt(v/bc2) + eps)`, or `(m/bc1) / (…)` with inner momentum.
 */
function direction<T, S>(
  ops: TensorOps<T, S>,
  d: DirectionConfig,
  t: Readonly<Record<string, T>>,
  s: Readonly<Record<string, S>>,
): { u: T; state: Record<string, T> } {
  const g = t.grad;
  const state: Record<string, T> = {};
  let numerator = g;
  if (d.innerMomentum) {
    state.m = ops.add(ops.mulScalar(t.m, s.mu), ops.mulScalar(g, s.oneMinusMu));
    numerator = ops.divScalar(state.m, s.bc1);
  }
  if (!d.secondMoment) return { u: numerator, state };
  state.v = ops.add(ops.mulScalar(t.v, s.beta2), ops.mulScalar(ops.mul(g, g), s.oneMinusBeta2));
  if (!d.normalize) return { u: numerator, state };
  const denominator = ops.addScalar(ops.sqrt(ops.divScalar(state.v, s.bc2)), s.eps);
  return { u: ops.div(numerator, denominator), state };
}

/**
 * One step of the memory-efficient classes, with u = direction + wd·y and z ← z − γ·u:
 * - `fused` (param holds y): `y ← lerp(y, z, c) + γ(β(1−c) − 1)·u` (scalar `yCoef`);
 * - `closure` (param holds y on entry, x on exit): `x = lerp(y, z, 1 − 1/β)` (scalar `toX`), then
 *   `x ← lerp(x, z_new, c)`.
 */
function sfStepProgram(d: DirectionConfig, decay: boolean, form: 'fused' | 'closure'): ElementwiseProgram {
  const key = `sf-${form}:${directionKey(d)}${decay ? ':wd' : ''}`;
  return cached(key, () =>
    defineProgram({
      key,
      inputs: ['param', 'grad', 'z', ...directionSlots(d)],
      scalars: [
        ...directionScalars(d),
        ...(decay ? ['wd'] : []),
        'c',
        'lr',
        form === 'fused' ? 'yCoef' : 'toX',
      ],
      outputs: ['param', 'z', ...directionSlots(d)],
      body(ops, t, s) {
        const { u: raw, state } = direction(ops, d, t, s);
        const u = decay ? ops.add(raw, ops.mulScalar(t.param, s.wd)) : raw;
        const z = ops.sub(t.z, ops.mulScalar(u, s.lr));
        const param =
          form === 'fused'
            ? ops.add(ops.lerp(t.param, t.z, s.c), ops.mulScalar(u, s.yCoef))
            : ops.lerp(ops.lerp(t.param, t.z, s.toX), z, s.c);
        return { param, z, ...state };
      },
    }),
  );
}

/** One step of the classes whose parameters hold y (see {@link sfStepProgram}). */
export const fusedStepProgram = (d: DirectionConfig, decay: boolean) => sfStepProgram(d, decay, 'fused');

/** One step of the closure classes (see {@link sfStepProgram}). */
export const closureStepProgram = (d: DirectionConfig, decay: boolean) => sfStepProgram(d, decay, 'closure');

/** Where the reference classes apply weight decay: none, the SGD gradient, or z directly. */
export type ReferenceDecay = 'none' | 'grad-at-y' | 'z-at-y' | 'z-at-z';

/**
 * One step of the reference classes, which keep x, y and z explicitly:
 * `z ← z − γ·u`, `x ← lerp(x, z, c)`, `y ← lerp(x, z, 1−β)`, param ← y.
 * (The PyTorch reference writes the averages as `x(1−c) + cz` and `βx + (1−β)z`: equal up to
 * rounding, but the lerp form leaves x and y bit-identical when a step moves nothing, e.g. lr 0.)
 */
export function referenceStepProgram(d: DirectionConfig, decay: ReferenceDecay): ElementwiseProgram {
  const key = `sf-reference:${directionKey(d)}:${decay}`;
  return cached(key, () =>
    defineProgram({
      key,
      inputs: ['param', 'grad', 'z', 'x', 'y', ...directionSlots(d)],
      scalars: [
        ...directionScalars(d),
        ...(decay === 'grad-at-y' ? ['wd'] : decay === 'none' ? [] : ['lrWd']),
        'lr',
        'c',
        'yWeight',
      ],
      outputs: ['param', 'z', 'x', 'y', ...directionSlots(d)],
      body(ops, t, s) {
        // Decay of z at y or z comes first (AdamW reference); SGD reference decays the gradient.
        let z = t.z;
        if (decay === 'z-at-y' || decay === 'z-at-z') {
          z = ops.sub(z, ops.mulScalar(decay === 'z-at-z' ? t.z : t.y, s.lrWd));
        }
        const grad = decay === 'grad-at-y' ? ops.add(t.grad, ops.mulScalar(t.y, s.wd)) : t.grad;
        const { u, state } = direction(ops, d, { ...t, grad }, s);
        z = ops.sub(z, ops.mulScalar(u, s.lr));
        const x = ops.lerp(t.x, z, s.c);
        const y = ops.lerp(x, z, s.yWeight);
        return { param: y, z, x, y, ...state };
      },
    }),
  );
}

/** `param ← lerp(param, z, w)`: the y↔x moves of the fused and closure classes. */
export const lerpToZProgram: ElementwiseProgram = defineProgram({
  key: 'lerp-to-z',
  inputs: ['param', 'z'],
  scalars: ['w'],
  outputs: ['param'],
  body: (ops, t, s) => ({ param: ops.lerp(t.param, t.z, s.w) }),
});

/** `param ← slot` (an exact copy): the mode switches of the reference classes. */
export function copyProgram(slot: 'x' | 'y'): ElementwiseProgram {
  return cached(`copy-${slot}`, () =>
    defineProgram({
      key: `copy-${slot}`,
      inputs: ['param', slot],
      scalars: [],
      outputs: ['param'],
      body: (_ops, t) => ({ param: t[slot] }),
    }),
  );
}
