import type { Algorithm, SlotSpec } from './algorithm.js';
import { ScheduleFreeError } from './errors.js';

/**
 * The serialised optimizer state and the checks made before loading one. Shared by every engine
 * (the core's, and adapters with their own storage layout), so a state saved by any schedulefree-js
 * optimizer loads into any other of the same class, and a mismatch reads the same everywhere.
 */

/** Which sequence the stored parameters hold: y (`'train'`) or x (`'eval'`). */
export type Mode = 'train' | 'eval';

export const STATE_FORMAT = 'schedulefree-state/1';

/**
 * Serialisable optimizer state: plain JSON, keyed by parameter name. `V` is how a state buffer is
 * held: number arrays in JSON; typed arrays or a backend's tensors are accepted when loading, and
 * tensors are what an adapter saving through its library's own format gets.
 */
export interface StateDict<V = number[]> {
  format: typeof STATE_FORMAT;
  optimizer: string;
  mode: Mode;
  groups: Array<{
    params: string[];
    options: Record<string, unknown>;
    counters: Record<string, number>;
    /** Counters kept per parameter (see `Algorithm.memberCounters`), by parameter name. */
    paramCounters?: Record<string, Record<string, number>>;
    initialized: boolean;
  }>;
  /** Parameter name → slot name → values (flattened row-major). Only for initialized groups. */
  state: Record<string, Record<string, V>>;
}

/** What to load into one current group. */
export interface GroupLoad {
  readonly group: number;
  readonly options: Record<string, unknown>;
  readonly slots: readonly SlotSpec[];
  readonly saved: StateDict<unknown>['groups'][number];
}

/** Deep-copies option values (arrays such as `betas`) so user objects are never aliased. */
export function cloneOptions<V extends Record<string, unknown>>(options: V): V {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[k] = Array.isArray(v) ? [...v] : v;
  return out as V;
}

/** Current version of the state-dict layout; a state with another `format` is refused clearly. */
const FORMAT_PREFIX = 'schedulefree-state/';

/** Counters that count steps: whole numbers ≥ 0. */
const STEP_COUNTERS = new Set(['k', 'step']);
/** Counters that are sums or maxima of non-negative values. */
const NON_NEGATIVE_COUNTERS = new Set(['lrMax', 'weightSum', 'scheduledLr', 'gradL1Ema']);

/** How many problems one error lists before "and N more". */
const MAX_PROBLEMS = 8;

/** What a finite, in-range number this counter must be, or null when `value` is fine. */
function counterProblem(name: string, value: unknown): string | null {
  if (typeof value !== 'number') return `is ${show(value)}, not a number`;
  if (!Number.isFinite(value)) return `is ${value}`;
  if (STEP_COUNTERS.has(name) && (!Number.isInteger(value) || value < 0)) {
    return `is ${value}; a step count is a whole number ≥ 0`;
  }
  if ((NON_NEGATIVE_COUNTERS.has(name) || name.endsWith('_step')) && value < 0) return `is ${value}, below 0`;
  return null;
}

/**
 * Validates `stateDict` against this optimizer's groups (`groups[i]` = parameter names of group i,
 * `sizeOf(name)` = elements) and returns what to load per group: structure, types, every counter
 * (finite; step counts whole and ≥ 0; sums ≥ 0), every value of every host buffer (finite numbers),
 * and consistency (mode, groups, which parameters have state). Throws one `STATE_MISMATCH` listing
 * each problem with its path inside the state (`state.w.z[17] is NaN`), or the algorithm's
 * `INVALID_OPTION` for saved options, and changes nothing.
 */
export function planStateLoad<O extends object>(
  algorithm: Algorithm<O>,
  groups: ReadonlyArray<readonly string[]>,
  sizeOf: ReadonlyMap<string, { group: number; size: number }>,
  stateDict: StateDict<unknown>,
  measure: (value: unknown) => number | null = hostLength,
): GroupLoad[] {
  const where = `${algorithm.name}.loadStateDict`;
  const fail = (msg: string): never => {
    throw new ScheduleFreeError('STATE_MISMATCH', `${where}: ${msg}`);
  };
  if (!stateDict || typeof stateDict !== 'object' || Array.isArray(stateDict)) {
    fail(`expected the object stateDict() returns, got ${show(stateDict)}.`);
  }
  const format = (stateDict as { format?: unknown }).format;
  if (format !== STATE_FORMAT) {
    if (typeof format === 'string' && format.startsWith(FORMAT_PREFIX)) {
      fail(
        `the state has format "${format}", but this version of @schedulefree/core reads "${STATE_FORMAT}". Load it with the version that saved it, or update @schedulefree/core.`,
      );
    }
    fail(`expected an object from stateDict() with format "${STATE_FORMAT}", got format ${show(format)}.`);
  }
  if (stateDict.optimizer !== algorithm.name) {
    fail(
      `the state is from ${show(stateDict.optimizer)}, not ${algorithm.name}. Load it into the same optimizer class.`,
    );
  }
  if (stateDict.mode !== 'train' && stateDict.mode !== 'eval') {
    fail(`"mode" is ${show(stateDict.mode)}; it must be 'train' or 'eval', as stateDict() writes it.`);
  }
  if (stateDict.mode === 'train' && (algorithm.kind === 'closure' || algorithm.kind === 'plain')) {
    fail(`"mode" is 'train', but ${algorithm.name} has no train mode; its states always say 'eval'.`);
  }
  const saved = stateDict.groups;
  if (!Array.isArray(saved) || saved.length !== groups.length) {
    fail(
      `the state has ${Array.isArray(saved) ? saved.length : 'no list of'} parameter groups, this optimizer has ${groups.length}. Create the optimizer with the same groups it was saved with (addParamGroup() for groups added later).`,
    );
  }
  saved.forEach((g, si) => {
    if (
      !g ||
      typeof g !== 'object' ||
      !Array.isArray(g.params) ||
      !g.params.every((n) => typeof n === 'string')
    ) {
      fail(`groups[${si}] must be an object with "params", a list of parameter names.`);
    }
    if (new Set(g.params).size !== g.params.length) fail(`groups[${si}].params names a parameter twice.`);
  });
  const savedNames = saved.flatMap((g) => g.params);
  const missing = [...sizeOf.keys()].filter((n) => !savedNames.includes(n));
  const extra = savedNames.filter((n) => !sizeOf.has(n));
  if (missing.length || extra.length) {
    fail(
      `parameter names differ (missing from the state: ${missing.join(', ') || 'none'}; unknown here: ${extra.join(', ') || 'none'}). Was it saved from a different model?`,
    );
  }
  if (new Set(savedNames).size !== savedNames.length)
    fail('a parameter appears in more than one saved group.');

  const problems: string[] = [];
  const problem = (path: string, text: string) => {
    problems.push(`${path} ${text}`);
  };
  const state = (stateDict as { state?: unknown }).state;
  if (!state || typeof state !== 'object' || Array.isArray(state))
    fail(`"state" must be an object, got ${show(state)}.`);
  const stateOf = state as Record<string, Record<string, unknown> | undefined>;
  const counterNames = Object.keys(algorithm.initialCounters());
  const loads = saved.map((g, si) => {
    const gi = sizeOf.get(g.params[0])?.group ?? -1;
    const current = groups[gi] ?? [];
    if (current.length !== g.params.length || !g.params.every((n) => sizeOf.get(n)?.group === gi)) {
      fail(`saved group ${si} (${g.params.join(', ')}) does not match any parameter group here.`);
    }
    if (g.options === null || typeof g.options !== 'object' || Array.isArray(g.options)) {
      fail(`groups[${si}].options must be an object of hyperparameters, got ${show(g.options)}.`);
    }
    const options = cloneOptions(g.options);
    algorithm.validate(options, `${where} (saved group ${si})`);
    if (typeof g.initialized !== 'boolean') {
      problem(`groups[${si}].initialized`, `is ${show(g.initialized)}, not true or false`);
    }
    const counters = g.counters as Record<string, unknown> | undefined;
    if (!counters || typeof counters !== 'object') problem(`groups[${si}].counters`, 'is missing');
    else {
      for (const key of counterNames) {
        const text = key in counters ? counterProblem(key, counters[key]) : 'is missing';
        if (text) problem(`groups[${si}].counters.${key}`, text);
      }
      if (g.initialized === false && typeof counters.k === 'number' && counters.k !== 0) {
        problem(`groups[${si}]`, `says it has taken no step but counters.k is ${counters.k}`);
      }
    }
    for (const [name, values] of Object.entries(g.paramCounters ?? {})) {
      if (!g.params.includes(name))
        problem(`groups[${si}].paramCounters.${name}`, 'is not a parameter of this group');
      for (const [key, value] of Object.entries(values ?? {})) {
        const text = counterProblem(key, value);
        if (text) problem(`groups[${si}].paramCounters.${name}.${key}`, text);
      }
    }
    const slots = algorithm.slots(options as O);
    const wanted = slots.map((s) => s.name).sort();
    for (const name of g.params) {
      const slotValues = stateOf[name];
      if (!g.initialized) {
        if (slotValues !== undefined) problem(`state.${name}`, 'exists, but its group has taken no step');
        continue;
      }
      if (!slotValues || typeof slotValues !== 'object') {
        problem(`state.${name}`, 'is missing');
        continue;
      }
      const got = Object.keys(slotValues).sort();
      if (wanted.join() !== got.join()) {
        problem(`state.${name}`, `has slots [${got}] but ${algorithm.name} needs [${wanted}]`);
        continue;
      }
      const size = sizeOf.get(name)!.size;
      for (const slot of got) {
        const value = slotValues[slot];
        const length = measure(value);
        if (length === null) {
          problem(`state.${name}.${slot}`, `is ${describe(value)}, not an array of numbers`);
          continue;
        }
        if (length !== size) {
          problem(
            `state.${name}.${slot}`,
            `has ${length} values, but parameter "${name}" has ${size} elements`,
          );
          continue;
        }
        const bad = hostLength(value) === null ? -1 : firstNonFinite(value as ArrayLike<unknown>);
        if (bad >= 0) {
          problem(`state.${name}.${slot}[${bad}]`, `is ${show((value as ArrayLike<unknown>)[bad])}`);
        }
      }
    }
    return { group: gi, options, slots, saved: g };
  });
  for (const name of Object.keys(stateOf)) {
    if (!sizeOf.has(name)) problem(`state.${name}`, 'is not a parameter of this optimizer');
  }
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_PROBLEMS).join('; ');
    const more = problems.length > MAX_PROBLEMS ? `; and ${problems.length - MAX_PROBLEMS} more` : '';
    fail(`the state is damaged: ${listed}${more}. Nothing was loaded; load an intact checkpoint.`);
  }
  return loads;
}

/** Index of the first element that is not a finite number, or -1. */
function firstNonFinite(values: ArrayLike<unknown>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return i;
  }
  return -1;
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Element count of a host buffer in a state dict (a number array or typed array), else null. */
export function hostLength(value: unknown): number | null {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))
    ? (value as ArrayLike<number>).length
    : null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value === 'object' ? 'an object' : show(value);
}
