import { check } from './errors.js';

/**
 * Checks of what users pass to an optimizer: parameter groups and gradient records. Pure functions
 * shared by every engine (the core's and adapters' with their own storage), so messages and rules
 * are the same everywhere.
 */

/** Parameters: a record name → tensor, or groups each with their own option overrides. */
export type ParamsInput<T, O> =
  | Readonly<Record<string, T>>
  | ReadonlyArray<{ params: Readonly<Record<string, T>> } & Partial<O>>;

/** Splits the `params` argument into groups of tensors and option overrides. */
export function normalizeGroups<T, O>(
  where: string,
  params: ParamsInput<T, O>,
): Array<{ params: Readonly<Record<string, T>>; overrides: Partial<O> }> {
  check(
    params != null && typeof params === 'object' && !ArrayBuffer.isView(params),
    'INVALID_PARAMS',
    () => `${where}: params must be a record name → tensor or an array of groups { params, ...options }.`,
  );
  const groups = Array.isArray(params)
    ? (params as ReadonlyArray<{ params: Readonly<Record<string, T>> } & Partial<O>>).map((g, gi) => {
        check(
          g && typeof g === 'object' && g.params && typeof g.params === 'object',
          'INVALID_PARAMS',
          () =>
            `${where}: param group ${gi} must be an object { params: { name: tensor, ... }, ...options }.`,
        );
        const { params: p, ...overrides } = g;
        return { params: p, overrides: overrides as Partial<O> };
      })
    : [{ params: params as Readonly<Record<string, T>>, overrides: {} as Partial<O> }];
  check(groups.length > 0, 'INVALID_PARAMS', () => `${where}: no parameter groups were given.`);
  for (const [gi, g] of groups.entries()) {
    check(
      Object.keys(g.params).length > 0,
      'INVALID_PARAMS',
      () => `${where}: param group ${gi} has no parameters.`,
    );
  }
  return groups;
}

/** How an engine inspects one gradient. */
export interface GradientInspector<T> {
  /** Why this gradient cannot be used for this parameter (type, dtype, location), or null. */
  problem(name: string, grad: T): string | null;
  /** Number of elements. */
  size(grad: T): number;
  /** Whether every element is finite; null when the engine checks elsewhere (e.g. on the device). */
  finite(name: string, grad: T): boolean | null;
}

/** The message of a `NON_FINITE_GRAD` error. */
export const nonFiniteMessage = (where: string, what: string): string =>
  `${where}: gradient ${what} contains NaN or Infinity; nothing was changed. Fix the loss or clip the gradients, or pass { nonFiniteGrads: 'skip' } to skip such steps.`;

/** How an engine inspects one gradient's structure. */
export interface GradientShapeInspector<T> {
  /** Why this gradient cannot be used for this parameter (type, dtype, location), or null. */
  problem(name: string, grad: T): string | null;
  /** Number of elements. */
  size(grad: T): number;
  /**
   * Accepts parameters without a gradient this step (`null` or `undefined` given for a known name,
   * and, with `omitted: 'freeze'`, names left out), reporting each. Without it they are errors.
   */
  frozen?(name: string): void;
  /** What a name left out of the record means when `frozen` is given (default `'error'`). */
  omitted?: 'error' | 'freeze';
}

/**
 * Checks the structure of a gradient record: known names only, one gradient per parameter, usable
 * tensors of the right size. Throws naming the gradient and the fix; returns the gradients in the
 * parameters' order.
 */
export function checkGradientRecord<T>(
  where: string,
  params: ReadonlyMap<string, { readonly size: number }>,
  grads: Readonly<Record<string, T>>,
  inspect: GradientShapeInspector<T>,
): Array<[string, T]> {
  check(
    grads !== null && typeof grads === 'object' && !ArrayBuffer.isView(grads) && !Array.isArray(grads),
    'MISSING_GRAD',
    () =>
      `${where}: expected a record of gradients keyed by parameter name, got ${grads === null ? 'null' : Array.isArray(grads) ? 'an array' : typeof grads}.`,
  );
  for (const name of Object.keys(grads)) {
    check(
      params.has(name),
      'UNKNOWN_PARAM',
      () =>
        `${where}: gradient "${name}" does not match any parameter. Parameters are: ${[...params.keys()].join(', ')}.`,
    );
  }
  const checked: Array<[string, T]> = [];
  for (const [name, p] of params) {
    const grad = grads[name];
    if (grad == null && inspect.frozen && (name in grads || inspect.omitted === 'freeze')) {
      inspect.frozen(name);
      continue;
    }
    check(grad != null, 'MISSING_GRAD', () =>
      inspect.frozen
        ? `${where}: no gradient for parameter "${name}". Pass one for every parameter, or null for a parameter without a gradient this step (it is left unchanged); or create the optimizer with { omittedGrads: 'freeze' } to treat names left out the same way.`
        : `${where}: no gradient for parameter "${name}". Pass a gradient for every parameter (zeros for one that did not contribute).`,
    );
    const problem = inspect.problem(name, grad);
    check(problem === null, 'DTYPE_MISMATCH', () => `${where}: gradient "${name}": ${problem}.`);
    const size = inspect.size(grad);
    check(
      size === p.size,
      'SHAPE_MISMATCH',
      () => `${where}: gradient "${name}" has ${size} elements but the parameter has ${p.size}.`,
    );
    checked.push([name, grad]);
  }
  return checked;
}

/**
 * Checks a gradient record: {@link checkGradientRecord}, then finite values. Throws (naming the
 * gradient and the fix) or returns false when the step must be skipped (non-finite with
 * `nonFiniteGrads: 'skip'`).
 */
export function checkGradRecord<T>(
  where: string,
  params: ReadonlyMap<string, { readonly size: number }>,
  grads: Readonly<Record<string, T>>,
  inspect: GradientInspector<T>,
  nonFiniteGrads: 'throw' | 'skip',
): boolean {
  for (const [name, grad] of checkGradientRecord(where, params, grads, inspect)) {
    if (inspect.finite(name, grad) === false) {
      check(nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () => nonFiniteMessage(where, `"${name}"`));
      return false;
    }
  }
  return true;
}
