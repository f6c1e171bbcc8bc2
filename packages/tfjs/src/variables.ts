import { check, ScheduleFreeError } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from './saving.js';

/**
 * What `applyGradients` accepts, as in tfjs: a map from variable name to gradient, or a list;
 * `null` for a variable without a gradient this step (it is left unchanged).
 */
export type GradientsInput =
  | Readonly<Record<string, tf.Tensor | null | undefined>>
  | ReadonlyArray<NamedTensor | { name: string; tensor: tf.Tensor | null }>;

/** Anything with trainable weights in `fit`'s order, such as a `tf.LayersModel`. */
export interface ModelLike {
  readonly trainableWeights: ReadonlyArray<{ read(): tf.Tensor }>;
}

/** Gradients keyed by variable name; `null` for a variable without a gradient this step (frozen). */
export type NamedGradients = Record<string, tf.Tensor | null>;

/**
 * Gradients keyed by variable name, in the order given. `null` and `undefined` entries (tfjs gives
 * `null` for the non-trainable variables of a `varList`) are kept as `null`: variables without a
 * gradient this step, which the optimizer leaves unchanged. A duplicate name is an error.
 */
export function cleanGradients(input: GradientsInput, where: string, method: string): NamedGradients {
  const expected = 'a record of gradients { [variable.name]: tensor } or a list of { name, tensor }';
  check(
    input !== null && typeof input === 'object' && !ArrayBuffer.isView(input),
    'MISSING_GRAD',
    () =>
      `${where}.${method}: expected ${expected}, got ${input === null ? 'null' : ArrayBuffer.isView(input) ? 'a typed array' : typeof input}.`,
  );
  const out: NamedGradients = {};
  const list = Array.isArray(input);
  const entries: Array<[unknown, tf.Tensor | null | undefined]> = list
    ? (input as ReadonlyArray<NamedTensor>).map((e) => [e?.name, e?.tensor])
    : Object.entries(input as Record<string, tf.Tensor | null | undefined>);
  entries.forEach(([name, tensor], i) => {
    check(
      typeof name === 'string',
      'MISSING_GRAD',
      () => `${where}.${method}: expected ${expected}; entry ${i} of the list has no variable name.`,
    );
    check(!(name in out), 'UNKNOWN_PARAM', () => `${where}.${method}: two gradients for variable "${name}".`);
    out[name] = tensor ?? null;
  });
  return out;
}

/** The tensors of a gradient record, without the frozen (`null`) entries. */
export const presentGradients = (named: NamedGradients): tf.Tensor[] =>
  Object.values(named).filter((t): t is tf.Tensor => t !== null);

/** The registered variables with these names; an unknown name is an error naming it. */
export function lookupVariables(names: readonly string[], where: string): tf.Variable[] {
  const registry = tf.engine().registeredVariables;
  return names.map((name) => {
    const v = registry[name];
    if (!v) {
      throw new ScheduleFreeError(
        'UNKNOWN_PARAM',
        `${where}: there is no variable named "${name}". Gradients must be keyed by the names of tf.Variables.`,
      );
    }
    return v;
  });
}

/** The variables of a list or a model (its trainable weights), checked to be float32 variables. */
export function variablesOf(target: readonly tf.Variable[] | ModelLike, where: string): tf.Variable[] {
  const list = Array.isArray(target)
    ? (target as readonly tf.Variable[])
    : (target as ModelLike)?.trainableWeights?.map((w) => w.read());
  check(
    Array.isArray(list) && list.length > 0,
    'INVALID_PARAMS',
    () => `${where}: pass a non-empty list of tf.Variables or a model with trainable weights.`,
  );
  for (const v of list) {
    check(
      v instanceof tf.Variable && v.dtype === 'float32' && !v.isDisposed,
      'INVALID_PARAMS',
      () => `${where}: ${(v as { name?: string })?.name ?? String(v)} is not a live float32 tf.Variable.`,
    );
  }
  return [...(list as tf.Variable[])];
}

/**
 * The variables of a first step: those the gradients name (frozen ones included), in `varList`
 * order when given, else in the order of the gradients.
 */
export function orderedVariables(
  grads: Readonly<NamedGradients>,
  varList: readonly tf.Variable[] | undefined,
  where: string,
): tf.Variable[] {
  if (varList) return varList.filter((v) => v.name in grads);
  return lookupVariables(Object.keys(grads), where);
}
