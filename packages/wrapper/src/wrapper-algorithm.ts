import {
  type Algorithm,
  advanceSchedule,
  type Counters,
  copyProgram,
  defineProgram,
  type ElementwiseProgram,
  inRange,
  lerpToZProgram,
  nonNegative,
  type OptionSchema,
  type ProgramRun,
  type ScheduleCounters,
  type SlotSpec,
  validateOptions,
} from '@schedulefree/core';
import { validateBaseOptions } from './base/plain.js';
import type { BaseAlgorithm, Structure } from './base/types.js';

/** Options of the Schedule-Free wrappers (fixed at construction, shared by all groups). */
export interface ScheduleFreeWrapperOptions {
  /** Interpolation β: y = β·x + (1−β)·z. */
  momentum: number;
  /** Weight decay computed at y and applied to z (x is left unchanged), scaled by the group's lr. */
  weightDecayAtY: number;
  /** Exponent r of the polynomial averaging weight `(k+1)^r`. */
  r: number;
  /** Exponent of `lrMax` in the averaging weight. */
  weightLrPower: number;
}

/** The wrapper's defaults, shared by every adapter's wrapper. */
export const wrapperDefaults: Readonly<ScheduleFreeWrapperOptions> = Object.freeze({
  momentum: 0.9,
  weightDecayAtY: 0,
  r: 0,
  weightLrPower: 2,
});

/** The wrapper's option schema (the reference variant also allows β = 0 and β = 1). For adapters. */
export const wrapperSchema = (reference: boolean): OptionSchema<ScheduleFreeWrapperOptions> => ({
  momentum: [
    reference ? inRange(0, 1) : inRange(0, 1, { lo: true, hi: true }),
    'β interpolates y between x and z; typical values are 0.9…0.98.',
  ],
  weightDecayAtY: [nonNegative, 'Pass a decay ≥ 0 (0 disables it).'],
  r: [nonNegative, 'Pass r ≥ 0 (0: uniform averaging).'],
  weightLrPower: [nonNegative, 'Pass a power ≥ 0 (default 2).'],
});

/** Base state slots are prefixed so they never collide with the wrapper's z, x and y. */
const BASE = 'base_';
const prefixed = (name: string) => `${BASE}${name}`;

const programs = new Map<string, ElementwiseProgram>();

function wrapperProgram<O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  structure: Structure,
  decay: boolean,
  reference: boolean,
): ElementwiseProgram {
  const key = `sf-wrapper${reference ? '-reference' : ''}:${base.name}:${structure}${decay ? ':wd' : ''}`;
  const cached = programs.get(key);
  if (cached) return cached;
  const signature = base.signature(structure);
  const baseSlots = signature.slots.map(prefixed);
  const own = reference ? ['z', 'x', 'y'] : ['z'];
  const program = defineProgram({
    key,
    inputs: ['param', 'grad', ...own, ...baseSlots],
    scalars: [
      ...signature.scalars.map(prefixed),
      'c',
      'toY',
      ...(reference ? [] : ['toX']),
      ...(decay ? ['decayZ'] : []),
      ...(decay && !reference ? ['decayY'] : []),
    ],
    outputs: ['param', ...own, ...baseSlots],
    body(ops, t, s) {
      // Decay at y lands on z; the fused form also shrinks y so that x = (y − (1−β)z)/β is unchanged.
      const yNow = reference ? t.y : t.param;
      const z = decay ? ops.sub(t.z, ops.mulScalar(yNow, s.decayZ)) : t.z;
      const x = reference
        ? t.x
        : ops.lerp(decay ? ops.sub(t.param, ops.mulScalar(t.param, s.decayY)) : t.param, z, s.toX);
      // The base optimizer steps z with the gradient taken at y.
      const baseIn: Record<string, (typeof t)[string]> = { param: z, grad: t.grad };
      for (const name of signature.slots) baseIn[name] = t[prefixed(name)];
      const baseScalars: Record<string, (typeof s)[string]> = {};
      for (const name of signature.scalars) baseScalars[name] = s[prefixed(name)];
      const stepped = base.update(ops, structure, baseIn, baseScalars);
      const zNew = stepped.param;
      const xNew = ops.lerp(x, zNew, s.c);
      const yNew = ops.lerp(xNew, zNew, s.toY);
      const out: Record<string, (typeof t)[string]> = { param: yNew, z: zNew };
      if (reference) Object.assign(out, { x: xNew, y: yNew });
      for (const name of signature.slots) out[prefixed(name)] = stepped[name];
      return out;
    },
  });
  programs.set(key, program);
  return program;
}

function splitCounters(counters: Counters): { schedule: ScheduleCounters; base: Counters } {
  const base: Record<string, number> = {};
  for (const [k, v] of Object.entries(counters)) if (k.startsWith(BASE)) base[k.slice(BASE.length)] = v;
  const { k, lrMax, weightSum, scheduledLr } = counters;
  return { schedule: { k, lrMax, weightSum, scheduledLr }, base };
}

/**
 * The Schedule-Free wrapper around a base algorithm, as one core {@link Algorithm}: the base steps
 * z with the gradient taken at y, the wrapper keeps the average x and the interpolation y. Its
 * step is a single elementwise program (base and wrapper fused), so every backend runs it in one
 * pass. With `reference`, x, y and z are all stored and mode switches are exact copies.
 *
 * Differences from the PyTorch wrapper, on purpose: a zero first lr gives c = 0 instead of a
 * division by zero; base state is kept under its own names; the mode is saved with the state.
 */
export function scheduleFreeWrapperAlgorithm<O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  options: Partial<ScheduleFreeWrapperOptions> = {},
  reference = false,
): Algorithm<O> & {
  readonly wrapperOptions: Readonly<ScheduleFreeWrapperOptions>;
  readonly base: BaseAlgorithm<O>;
} {
  const name = `ScheduleFreeWrapper${reference ? 'Reference' : ''}(${base.name})`;
  const wrapped = { ...wrapperDefaults, ...options } as ScheduleFreeWrapperOptions;
  validateOptions(name, wrapperSchema(reference), wrapped as unknown as Record<string, unknown>);
  const { momentum: beta, weightDecayAtY, r, weightLrPower } = wrapped;
  const own: SlotSpec[] = reference
    ? [
        { name: 'z', init: 'clone' },
        { name: 'x', init: 'clone' },
        { name: 'y', init: 'clone' },
      ]
    : [{ name: 'z', init: 'clone' }];
  return Object.freeze({
    name,
    kind: reference ? ('reference' as const) : ('fused' as const),
    defaults: base.defaults,
    wrapperOptions: Object.freeze(wrapped),
    base,
    validate: (o: Readonly<Record<string, unknown>>, where: string) => validateBaseOptions(base, o, where),
    slots: (o: O) => [...own, ...base.slots(o).map((slot) => ({ ...slot, name: prefixed(slot.name) }))],
    // The base's counters (its step count) live in each parameter's state in PyTorch.
    memberCounters: Object.keys(base.initialCounters()).map(prefixed),
    initialCounters: () => {
      const counters: Record<string, number> = { k: 0, lrMax: 0, weightSum: 0, scheduledLr: 0 };
      for (const [k, v] of Object.entries(base.initialCounters())) counters[prefixed(k)] = v;
      return counters;
    },
    planStep(o: O, counters: Counters) {
      const { schedule, base: baseCounters } = splitCounters(counters);
      const plan = base.plan(o, baseCounters);
      // The averaging weight uses the base's lr (× d) as it stands after the step.
      const step = advanceSchedule(schedule, base.effectiveLr(o, plan.counters), r, weightLrPower);
      const scalars: Record<string, number> = { c: step.c, toY: 1 - beta };
      for (const [k, v] of Object.entries(plan.scalars)) scalars[prefixed(k)] = v;
      if (!reference) scalars.toX = 1 - 1 / beta;
      const decay = weightDecayAtY !== 0;
      if (decay) {
        scalars.decayZ = o.lr * weightDecayAtY;
        if (!reference) scalars.decayY = o.lr * weightDecayAtY * (1 - beta);
      }
      const next: Record<string, number> = { ...step.counters };
      for (const [k, v] of Object.entries(plan.counters)) next[prefixed(k)] = v;
      return { program: wrapperProgram(base, plan.structure, decay, reference), scalars, counters: next };
    },
    moveTo(_o: O, target: 'x' | 'y'): ProgramRun {
      if (reference) return { program: copyProgram(target), scalars: {} };
      return { program: lerpToZProgram, scalars: { w: target === 'x' ? 1 - 1 / beta : 1 - beta } };
    },
  });
}
