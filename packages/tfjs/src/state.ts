import { type Algorithm, check, ScheduleFreeError } from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';
import type { EngineSnapshot } from './engine.js';
import type { ParamGroupSpec, VariableSelector } from './options.js';
import { matchVariables, type NamedTensor, type StateHeader } from './serialization.js';

/** Parameter groups as the core engine takes them: variables by name, plus option overrides. */
export type EngineGroups<O> = Array<{ params: Record<string, tf.Tensor> } & Partial<O>>;

const selects = (s: VariableSelector, v: tf.Variable) =>
  typeof s === 'string' ? s === v.name : s instanceof RegExp ? s.test(v.name) : s === v;

/**
 * The engine's groups from the `paramGroups` option: each variable joins the first group that
 * selects it; the others form a last group with the top-level options. A group that selects
 * nothing is an error (most likely a misspelt name).
 */
export function groupsFor<O>(
  specs: ReadonlyArray<ParamGroupSpec<O>>,
  variables: readonly tf.Variable[],
  where: string,
): EngineGroups<O> {
  const members: tf.Variable[][] = specs.map(() => []);
  const rest: tf.Variable[] = [];
  for (const v of variables) {
    const gi = specs.findIndex((spec) => spec.params.some((s) => selects(s, v)));
    (gi < 0 ? rest : members[gi]).push(v);
  }
  members.forEach((m, gi) => {
    check(
      m.length > 0,
      'INVALID_PARAMS',
      () =>
        `${where}: paramGroups[${gi}] selects none of the variables (${variables.map((v) => v.name).join(', ')}). Check its names or patterns.`,
    );
  });
  const byName = (vs: tf.Variable[]) => Object.fromEntries(vs.map((v) => [v.name, v as tf.Tensor]));
  const groups: Array<Record<string, unknown>> = specs.map((spec, gi) => {
    const { params: _params, ...overrides } = spec as ParamGroupSpec<O> & Record<string, unknown>;
    return { ...overrides, params: byName(members[gi]) };
  });
  if (rest.length > 0) groups.push({ params: byName(rest) });
  return groups as EngineGroups<O>;
}

/** A header for an optimizer with no state yet. */
export function emptyHeader(optimizer: string): StateHeader {
  return { format: 'schedulefree-tfjs/1', optimizer, mode: 'eval', groups: [], params: [] };
}

/** The header and named state tensors of an engine's state, listing variables in the bound order. */
export function describeState<O extends object>(
  algorithm: Algorithm<O>,
  snapshot: EngineSnapshot,
  bound: readonly tf.Variable[],
): { header: StateHeader; tensors: NamedTensor[] } {
  const byName = new Map(snapshot.params.map((p) => [p.name, p]));
  const slotsOf = snapshot.groups.map((g) => algorithm.slots(g.options as O).map((s) => s.name));
  const header: StateHeader = {
    ...emptyHeader(algorithm.name),
    mode: snapshot.mode,
    groups: snapshot.groups.map((g, gi) => ({ ...g, slots: slotsOf[gi] })),
    params: bound.map((v) => ({ name: v.name, shape: [...v.shape], group: byName.get(v.name)!.group })),
  };
  const tensors: NamedTensor[] = [];
  for (const v of bound) {
    const p = byName.get(v.name)!;
    if (!snapshot.groups[p.group].initialized) continue;
    for (const slot of slotsOf[p.group]) tensors.push({ name: `${v.name}/${slot}`, tensor: p.slots[slot] });
  }
  return { header, tensors };
}

/**
 * Everything needed to rebuild an engine from saved state over this run's variables: its groups
 * (saved structure and options), the state to adopt, and the variables in the saved order (which
 * stays the order: a wrapped tfjs optimizer keeps its own state by position). Throws
 * `STATE_MISMATCH` before anything is built when the state does not fit.
 */
export function planRestore<O extends object>(
  algorithm: Algorithm<O>,
  header: StateHeader,
  tensors: readonly tf.Tensor[],
  variables: readonly tf.Variable[],
  where: string,
): { groups: EngineGroups<O>; snapshot: EngineSnapshot; ordered: tf.Variable[] } {
  const order = matchVariables(header, variables, where);
  header.groups.forEach((g, gi) => {
    const wanted = algorithm
      .slots(g.options as O)
      .map((s) => s.name)
      .sort()
      .join();
    if (wanted !== [...g.slots].sort().join()) {
      throw new ScheduleFreeError(
        'STATE_MISMATCH',
        `${where}: saved group ${gi} has state slots [${g.slots}] but ${algorithm.name} needs [${wanted}] with its options.`,
      );
    }
  });
  const ordered = header.params.map((_, i) => variables[order[i]]);
  const groups = header.groups.map((g) => ({ ...g.options, params: {} as Record<string, tf.Tensor> }));
  header.params.forEach((p, i) => {
    groups[p.group].params[ordered[i].name] = ordered[i];
  });
  let k = 0;
  const snapshot: EngineSnapshot = {
    mode: header.mode,
    groups: header.groups.map((g) => ({
      options: g.options,
      counters: g.counters,
      initialized: g.initialized,
    })),
    params: header.params.map((p, i) => {
      const g = header.groups[p.group];
      const slots: Record<string, tf.Tensor> = {};
      if (g.initialized) for (const slot of g.slots) slots[slot] = tensors[k++];
      return { name: ordered[i].name, group: p.group, slots };
    }),
  };
  return { groups: groups as EngineGroups<O>, snapshot, ordered };
}
