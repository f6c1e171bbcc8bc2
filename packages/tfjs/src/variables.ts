import { check, ScheduleFreeError } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from './saving.js';

/** What `applyGradients` accepts, as in tfjs: a map from variable name to gradient, or a list. */
export type GradientsInput = tf.NamedTensorMap | ReadonlyArray<NamedTensor>;

/** Anything with trainable weights in `fit`'s order, such as a `tf.LayersModel`. */
export interface ModelLike {
  readonly trainableWeights: ReadonlyArray<{ read(): tf.Tensor }>;
}

/**
 * Gradients keyed by variable name, in the order given. Null entries (tfjs gives them for
 * non-trainable variables in a `varList`) are dropped; a duplicate name is an error.
 */
export function cleanGradients(
  input: GradientsInput,
  where: string,
  method: string,
): Record<string, tf.Tensor> {
  check(
    input !== null && typeof input === 'object',
    'MISSING_GRAD',
    () =>
      `${where}.${method}: expected gradients as { [variable.name]: tensor } or [{ name, tensor }], got ${input === null ? 'null' : typeof input}.`,
  );
  const out: Record<string, tf.Tensor> = {};
  const entries: Array<[string, tf.Tensor | null | undefined]> = Array.isArray(input)
    ? (input as ReadonlyArray<NamedTensor>).map((e) => [e?.name, e?.tensor])
    : Object.entries(input as tf.NamedTensorMap);
  for (const [name, tensor] of entries) {
    check(
      typeof name === 'string',
      'MISSING_GRAD',
      () => `${where}.${method}: every gradient needs the name of its variable.`,
    );
    check(!(name in out), 'UNKNOWN_PARAM', () => `${where}.${method}: two gradients for variable "${name}".`);
    if (tensor != null) out[name] = tensor;
  }
  return out;
}

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

/** The variables of a step, in `varList` order when given, else in the order of the gradients. */
export function orderedVariables(
  grads: Readonly<Record<string, tf.Tensor>>,
  varList: readonly tf.Variable[] | undefined,
  where: string,
): tf.Variable[] {
  if (varList) return varList.filter((v) => grads[v.name] != null);
  return lookupVariables(Object.keys(grads), where);
}
