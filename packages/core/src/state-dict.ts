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

/**
 * Validates `stateDict` against this optimizer's groups (`groups[i]` = parameter names of group i,
 * `sizeOf(name)` = elements) and returns what to load per group. Throws `STATE_MISMATCH` (or the
 * algorithm's `INVALID_OPTION`) and changes nothing on any mismatch.
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
  if (!stateDict || typeof stateDict !== 'object' || stateDict.format !== STATE_FORMAT) {
    fail(`expected an object from stateDict() with format "${STATE_FORMAT}".`);
  }
  if (stateDict.optimizer !== algorithm.name) {
    fail(
      `the state is from ${stateDict.optimizer}, not ${algorithm.name}. Load it into the same optimizer class.`,
    );
  }
  if (stateDict.mode !== 'train' && stateDict.mode !== 'eval') {
    fail(`invalid mode ${JSON.stringify(stateDict.mode)}.`);
  }
  const saved = stateDict.groups;
  if (!Array.isArray(saved) || saved.length !== groups.length) {
    fail(`the state has ${saved?.length} parameter groups, this optimizer has ${groups.length}.`);
  }
  const savedNames = saved.flatMap((g) => (Array.isArray(g?.params) ? g.params : []));
  const missing = [...sizeOf.keys()].filter((n) => !savedNames.includes(n));
  const extra = savedNames.filter((n) => !sizeOf.has(n));
  if (missing.length || extra.length) {
    fail(
      `parameter names differ (missing from the state: ${missing.join(', ') || 'none'}; unknown here: ${extra.join(', ') || 'none'}). Was it saved from a different model?`,
    );
  }
  return saved.map((g, si) => {
    const gi = sizeOf.get(g.params[0])?.group ?? -1;
    const current = groups[gi] ?? [];
    if (current.length !== g.params.length || !g.params.every((n) => sizeOf.get(n)?.group === gi)) {
      fail(`saved group ${si} (${g.params.join(', ')}) does not match any parameter group here.`);
    }
    const options = cloneOptions(g.options ?? {});
    algorithm.validate(options, `${where} (saved group ${si})`);
    const slots = algorithm.slots(options as O);
    if (g.initialized) {
      const wanted = slots.map((s) => s.name).sort();
      for (const name of g.params) {
        const state = stateDict.state?.[name];
        if (!state) fail(`no state for parameter "${name}".`);
        const got = Object.keys(state).sort();
        if (wanted.join() !== got.join()) {
          fail(`parameter "${name}" has state slots [${got}] but this optimizer needs [${wanted}].`);
        }
        const size = sizeOf.get(name)!.size;
        for (const s of got) {
          const length = measure(state[s]);
          if (length === null) {
            fail(
              `slot "${s}" of parameter "${name}" is not an array of numbers (got ${describe(state[s])}).`,
            );
          }
          if (length !== size) {
            fail(
              `slot "${s}" of parameter "${name}" has ${length} values; the parameter has ${size} elements.`,
            );
          }
        }
      }
    }
    for (const key of Object.keys(algorithm.initialCounters())) {
      if (typeof g.counters?.[key] !== 'number') fail(`saved group ${si} lacks counter "${key}".`);
    }
    return { group: gi, options, slots, saved: g };
  });
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
  return ArrayBuffer.isView(value) ? value.constructor.name : typeof value;
}
