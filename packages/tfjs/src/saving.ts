import {
  type Algorithm,
  hostLength,
  immediate,
  type Mode,
  planStateLoad,
  ScheduleFreeError,
  STATE_FORMAT,
  type StateDict,
  wait,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { Binding } from './binding.js';
import { finiteAsync } from './finite.js';

/**
 * How the optimizers save through tfjs (`getWeights`/`setWeights`, hence `model.save` with
 * `includeOptimizer` and `tf.loadLayersModel`): a header tensor holding the exact counters,
 * options, mode and the variables' names and shapes as JSON, then each variable's state tensors.
 * The engine's state dicts with tensor buffers (`stateTensors`, `loadStateDict`) are converted to
 * and from this layout here, so no state tensor is ever read back to the host to be saved.
 */

/** A tensor with the name it is saved under (tfjs's `NamedTensor`). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Name of the first optimizer weight: the header that describes all the others. */
export const HEADER_NAME = 'schedulefree/header';
const FORMAT = 'schedulefree-tfjs/1';

/**
 * What the optimizer saves besides its state tensors. Plain JSON, so counters such as `weightSum`
 * keep every bit of their float64 value (tfjs saves optimizer weights as float32 only).
 */
export interface StateHeader {
  format: typeof FORMAT;
  /** Class name of the optimizer that saved it. */
  optimizer: string;
  mode: Mode;
  groups: Array<{
    options: Record<string, unknown>;
    counters: Record<string, number>;
    initialized: boolean;
    /** State slots of each parameter of this group, in the order they are saved. */
    slots: string[];
  }>;
  /** The variables, in the order the optimizer first received them (for `fit`: the model's trainable weights). */
  params: Array<{ name: string; shape: number[]; group: number }>;
  /** Anything a subclass needs (the wrapper stores its base optimizer's weight count here). */
  extra?: Record<string, unknown>;
}

/**
 * Encodes the header as a float32 tensor of UTF-8 byte values: every byte is an integer below 256,
 * exact in float32 on every backend and in every tfjs weight format.
 */
export function encodeHeader(header: StateHeader): tf.Tensor {
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  return tf.tensor1d(Float32Array.from(bytes), 'float32');
}

const fail = (where: string, message: string): never => {
  throw new ScheduleFreeError('STATE_MISMATCH', `${where}: ${message}`);
};

/** Decodes and checks a header tensor written by {@link encodeHeader}. */
export async function decodeHeader(tensor: tf.Tensor, where: string): Promise<StateHeader> {
  const values = await tensor.data();
  const bytes = Uint8Array.from(values as Float32Array);
  let header: StateHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes)) as StateHeader;
  } catch {
    return fail(where, `the weight "${HEADER_NAME}" is not a Schedule-Free state header.`);
  }
  if (!header || header.format !== FORMAT || !Array.isArray(header.groups) || !Array.isArray(header.params)) {
    return fail(where, `unsupported state format ${JSON.stringify(header?.format)}; expected "${FORMAT}".`);
  }
  return header;
}

/** Splits the weights given to `setWeights` into the header and the rest, checking names and counts. */
export async function readWeights(
  weights: readonly NamedTensor[],
  className: string,
  where: string,
): Promise<{ header: StateHeader; state: NamedTensor[] }> {
  if (!Array.isArray(weights) || weights.length === 0 || weights[0]?.name !== HEADER_NAME) {
    fail(
      where,
      `these optimizer weights were not saved by a @schedulefree/tfjs optimizer (expected "${HEADER_NAME}" first, got ${JSON.stringify(weights?.[0]?.name)}).`,
    );
  }
  const header = await decodeHeader(weights[0].tensor, where);
  if (header.optimizer !== className) {
    fail(where, `the state was saved by ${header.optimizer}, not ${className}. Load it into the same class.`);
  }
  return { header, state: weights.slice(1) };
}

/** The number of state tensors the header promises (before any extra weights, e.g. a base optimizer's). */
export function stateTensorCount(header: StateHeader): number {
  return header.params.reduce((n, p) => {
    const g = header.groups[p.group];
    return n + (g?.initialized ? g.slots.length : 0);
  }, 0);
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Pairs saved parameters with the variables of this run: by name when every saved name is present
 * (another process, same names), otherwise by position (tfjs renames the variables of a model
 * loaded while the original is alive: `dense_Dense1/kernel` becomes `dense_Dense1/kernel_1`).
 * Counts and shapes must agree. Returns, per saved parameter, the index of its variable.
 */
export function matchVariables(
  header: StateHeader,
  variables: readonly tf.Variable[],
  where: string,
): number[] {
  const saved = header.params;
  if (saved.length !== variables.length) {
    fail(
      where,
      `the saved state is for ${saved.length} variables, but the optimizer was given ${variables.length} (${variables
        .map((v) => v.name)
        .join(', ')}). Load it into the same model, and train the same variables.`,
    );
  }
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const byName = saved.every((p) => index.has(p.name));
  return saved.map((p, i) => {
    const j = byName ? index.get(p.name)! : i;
    const v = variables[j];
    if (v.shape.length !== p.shape.length || v.shape.some((d, k) => d !== p.shape[k])) {
      fail(
        where,
        `saved variable ${i} "${p.name}" has shape ${shapeText(p.shape)}, but the variable it pairs with, "${v.name}", has shape ${shapeText(v.shape)}. Was the state saved from a different model?`,
      );
    }
    return j;
  });
}

/** Names the state tensors are saved under: `variable/slot`. */
export function stateTensorNames(header: StateHeader): string[] {
  return header.params.flatMap((p) => {
    const g = header.groups[p.group];
    return g?.initialized ? g.slots.map((slot) => `${p.name}/${slot}`) : [];
  });
}

/** Checks the state tensors against the header: count (exact unless more may follow) and shapes. */
export function checkStateTensors(
  header: StateHeader,
  state: readonly NamedTensor[],
  where: string,
  exact: boolean,
): void {
  const expected = stateTensorCount(header);
  if (exact ? state.length !== expected : state.length < expected) {
    fail(where, `the header lists ${expected} state tensors but ${state.length} were given.`);
  }
  let k = 0;
  for (const p of header.params) {
    const g = header.groups[p.group] ?? fail(where, `variable "${p.name}" names missing group ${p.group}.`);
    if (!g.initialized) continue;
    for (const slot of g.slots) {
      const t = state[k++];
      if (
        t.tensor.dtype !== 'float32' ||
        t.tensor.shape.length !== p.shape.length ||
        t.tensor.shape.some((d, i) => d !== p.shape[i])
      ) {
        fail(
          where,
          `state "${t.name}" (slot ${slot} of "${p.name}") has shape ${shapeText(t.tensor.shape)} and dtype ${t.tensor.dtype}; expected ${shapeText(p.shape)} float32.`,
        );
      }
    }
  }
}

/** A header for an optimizer with no state yet. */
export function emptyHeader(optimizer: string, mode: Mode): StateHeader {
  return { format: FORMAT, optimizer, mode, groups: [], params: [] };
}

/**
 * The header and named state tensors of an engine's state (`stateTensors()`), listing the variables
 * in `variables` order (the order they were first bound in). The tensors are the state dict's.
 */
export function savedState<O extends object>(
  algorithm: Algorithm<O>,
  dict: StateDict<tf.Tensor>,
  variables: readonly tf.Variable[],
): { header: StateHeader; tensors: NamedTensor[] } {
  const groupOf = new Map(dict.groups.flatMap((g, gi) => g.params.map((name) => [name, gi] as const)));
  const header: StateHeader = {
    ...emptyHeader(algorithm.name, dict.mode),
    groups: dict.groups.map(({ options, counters, initialized }) => ({
      options,
      counters,
      initialized,
      slots: algorithm.slots(options as O).map((s) => s.name),
    })),
    params: variables.map((v) => ({ name: v.name, shape: [...v.shape], group: groupOf.get(v.name)! })),
  };
  const tensors = header.params.flatMap((p) => {
    const g = header.groups[p.group];
    return g.initialized
      ? g.slots.map((slot) => ({ name: `${p.name}/${slot}`, tensor: dict.state[p.name][slot] }))
      : [];
  });
  return { header, tensors };
}

/**
 * A saved state as the engine loads it, for the variables `ordered` (the variable of each saved
 * parameter, see {@link matchVariables}): tensors in header order, keyed by the current names.
 */
export function stateDictOf(
  header: StateHeader,
  tensors: readonly tf.Tensor[],
  ordered: readonly tf.Variable[],
): StateDict<tf.Tensor> {
  const state: StateDict<tf.Tensor>['state'] = {};
  let k = 0;
  header.params.forEach((p, i) => {
    const g = header.groups[p.group];
    if (!g.initialized) return;
    const slots: Record<string, tf.Tensor> = {};
    for (const slot of g.slots) slots[slot] = tensors[k++];
    state[ordered[i].name] = slots;
  });
  return {
    format: STATE_FORMAT,
    optimizer: header.optimizer,
    mode: header.mode,
    groups: header.groups.map(({ options, counters, initialized }, gi) => ({
      params: header.params.flatMap((p, i) => (p.group === gi ? [ordered[i].name] : [])),
      options,
      counters,
      initialized,
    })),
    state,
  };
}

/**
 * What `getWeights` returns besides the header tensor: the state as it is once the calls made
 * before have taken effect (a step of the engine's queue), as named snapshots owned by the caller,
 * then the `extra` weights (the wrapper's base optimizer). Before the variables are known: the
 * state waiting for them, or none.
 */
export async function savedWeights<O extends object>(
  algorithm: Algorithm<O>,
  binding: Binding<O>,
  extraWeights: () => Promise<NamedTensor[]>,
): Promise<{ header: StateHeader; tensors: NamedTensor[]; extra: NamedTensor[] }> {
  const { engine, pending, variables } = binding;
  if (!engine) {
    const header = pending?.header ?? emptyHeader(algorithm.name, binding.mode);
    const names = stateTensorNames(header);
    // Clones share storage with the waiting state and stay valid however it changes.
    const tensors = (pending?.tensors ?? []).map((t, i) => ({
      name: names[i],
      tensor: tf.keep(tf.clone(t)),
    }));
    return { header, tensors, extra: await extraWeights() };
  }
  const state = engine.stateTensors();
  return engine.later({
    method: 'getWeights',
    prepare: (deferred) => {
      const read = state.prepare(deferred);
      return function* () {
        const saved = savedState(algorithm, yield* read(), variables);
        return { ...saved, extra: (yield* wait(extraWeights())) as NamedTensor[] };
      };
    },
  });
}

/**
 * Reads the weights given to `setWeights`: the header, the state tensors in header order and the
 * extra weights after them, checked against the header and, once the variables are known, against
 * them (and refused while calls are pending) before anything changes.
 */
export async function readSavedWeights<O extends object>(
  weights: readonly NamedTensor[],
  className: string,
  binding: Binding<O>,
  where: string,
): Promise<{ header: StateHeader; tensors: tf.Tensor[]; extra: NamedTensor[] }> {
  const { header, state } = await readWeights(weights, className, where);
  checkStateTensors(header, state, where, false);
  const count = stateTensorCount(header);
  // Checked here, where reading can wait (the engine checks again when it loads, where it can).
  const finite = await finiteAsync(state.slice(0, count).map((t) => t.tensor));
  const bad = finite.indexOf(false);
  if (bad >= 0)
    fail(
      where,
      `the state is damaged: "${state[bad].name}" contains NaN or Infinity. Nothing was loaded; load an intact checkpoint.`,
    );
  const engine = binding.engine;
  if (engine) {
    if (header.params.length > 0) matchVariables(header, binding.variables, where);
    engine.now({ method: 'setWeights', prepare: () => () => immediate(() => undefined) });
  }
  return { header, tensors: state.slice(0, count).map((t) => t.tensor), extra: state.slice(count) };
}

/**
 * Checks a saved state before the variables are known (the engine checks it again when it loads):
 * structure, options and every counter, by the core's state-dict validator, over the saved names
 * and shapes. Throws `STATE_MISMATCH` (or `INVALID_OPTION` for saved options) naming the path.
 */
export function checkSavedState<O extends object>(
  algorithm: Algorithm<O>,
  header: StateHeader,
  tensors: readonly tf.Tensor[],
): void {
  if (header.params.length === 0) return;
  const saved = header.params.map((p) => ({ name: p.name }) as tf.Variable);
  const sizes = new Map(
    header.params.map((p) => [p.name, { group: p.group, size: p.shape.reduce((a, b) => a * b, 1) }]),
  );
  const groups = header.groups.map((_, gi) => header.params.filter((p) => p.group === gi).map((p) => p.name));
  planStateLoad(algorithm, groups, sizes, stateDictOf(header, tensors, saved), (value) =>
    value instanceof tf.Tensor ? value.size : hostLength(value),
  );
}
