import type { TensorOps } from './tensor-ops.js';

/**
 * A pure elementwise computation over named tensor slots and named per-step scalars: the unit that
 * backends execute. Eager backends call `body` with their ops and number scalars; compiled backends
 * trace it once (see `ir/trace.ts`) and lower the graph.
 *
 * Outputs name the slots they replace; `grad` is read-only. A backend may update slots in place,
 * because every output element depends only on input elements at the same index.
 */
export interface ElementwiseProgram {
  /** Unique cache key: the program's name plus its static structure (which branches exist). */
  readonly key: string;
  /** Tensor slots read. */
  readonly inputs: readonly string[];
  /** Scalars read. */
  readonly scalars: readonly string[];
  /** Tensor slots written (a subset of `inputs`, never `grad`). */
  readonly outputs: readonly string[];
  body<T, S>(
    ops: TensorOps<T, S>,
    tensors: Readonly<Record<string, T>>,
    scalars: Readonly<Record<string, S>>,
  ): Record<string, T>;
}

/** Defines a program, checking that its outputs are among its inputs. */
export function defineProgram(program: ElementwiseProgram): ElementwiseProgram {
  for (const out of program.outputs) {
    if (!program.inputs.includes(out) || out === 'grad') {
      throw new Error(`program ${program.key}: output "${out}" must be a non-gradient input slot`);
    }
  }
  return Object.freeze(program);
}

/**
 * Runs a program eagerly: calls its body with the backend's ops and writes each output into its
 * slot. All outputs are computed before any is written, so inputs are never read after being
 * overwritten.
 */
export function runEager<T>(
  ops: TensorOps<T, number>,
  program: ElementwiseProgram,
  slots: Record<string, T>,
  scalars: Readonly<Record<string, number>>,
): void {
  const outputs = program.body(ops, slots, scalars);
  for (const name of program.outputs) {
    const value = outputs[name];
    if (value !== slots[name]) ops.assign(slots[name], value);
  }
}

/**
 * Sums over every element of every parameter of one or more elementwise terms (ScheduleFree+
 * reduces |g| and g·(z − x)): the only values that cross parameters. Traced like an elementwise
 * program; its `outputs` name the terms, which are not slots. A backend's `reduce` returns the sum
 * of each term, in `outputs` order.
 */
export interface ReductionProgram extends ElementwiseProgram {
  readonly reduction: true;
}

/** Defines a reduction, checking that its terms are not input slots. */
export function defineReduction(program: Omit<ReductionProgram, 'reduction'>): ReductionProgram {
  for (const term of program.outputs) {
    if (program.inputs.includes(term))
      throw new Error(`reduction ${program.key}: term "${term}" is an input slot`);
  }
  return Object.freeze({ ...program, reduction: true as const });
}
