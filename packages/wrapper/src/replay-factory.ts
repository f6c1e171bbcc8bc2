import type { TypedArray, TypedArrayExecution } from '@schedulefree/core';
import type { BaseOptimizer } from './base/plain.js';
import {
  Adagrad,
  Adam,
  AdamW,
  RMSprop,
  ScheduleFreeWrapper,
  ScheduleFreeWrapperReference,
  SGD,
} from './typed-array.js';

type Params =
  | Record<string, TypedArray>
  | Array<{ params: Record<string, TypedArray> } & Record<string, unknown>>;

const bases: Record<
  string,
  new (
    params: never,
    options: never,
  ) => BaseOptimizer<TypedArray, { lr: number }>
> = {
  SGD,
  Adam,
  AdamW,
  RMSprop,
  Adagrad,
};

/**
 * Builds the wrapper classes of a conformance case (`optimizer` is `ScheduleFreeWrapper` or
 * `ScheduleFreeWrapperReference`, `base` is `{ type, options }`, `options` the wrapper's), for the
 * core replay backends. Returns null for other cases.
 */
export function typedArrayFactory(
  spec: {
    optimizer: string;
    options: Record<string, unknown>;
    base?: { type: string; options: Record<string, unknown> };
  },
  params: Params,
  execution: TypedArrayExecution,
): ScheduleFreeWrapper<{ lr: number }> | null {
  if (spec.optimizer !== 'ScheduleFreeWrapper' && spec.optimizer !== 'ScheduleFreeWrapperReference')
    return null;
  const Base = spec.base && bases[spec.base.type];
  if (!Base)
    throw new Error(
      `unknown base optimizer ${JSON.stringify(spec.base?.type)}; known: ${Object.keys(bases).join(', ')}`,
    );
  const base = new Base(params as never, { ...spec.base!.options, execution } as never);
  const Wrapper =
    spec.optimizer === 'ScheduleFreeWrapper' ? ScheduleFreeWrapper : ScheduleFreeWrapperReference;
  return new Wrapper(base, spec.options);
}
