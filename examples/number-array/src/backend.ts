import {
  BACKEND_SPEC_VERSION,
  type Backend,
  compileLoop,
  compileReduction,
  type Execution,
  type KernelPlan,
  type LoopKernel,
  planFor,
  type ReduceRequest,
  type ReductionKernel,
  type RunRequest,
  scalarValues,
  type TensorStorage,
} from '@schedulefree/core';

/**
 * An example backend adapter: the optimizers of `@schedulefree/core` over plain JavaScript arrays
 * of numbers. It shows the three parts every backend provides (storage, execution, capabilities)
 * and nothing else: the engine of the core does validation, modes, groups, the schedule, state
 * dicts and the order of asynchronous calls.
 */

/** The tensor type of this backend: a plain array of numbers (float64 arithmetic). */
export type NumberArray = number[];

export interface NumberArrayBackendOptions {
  /**
   * Complete every run and read on a later task, as a GPU queue does. The optimizers over such a
   * backend are the asynchronous ones (every call returns a promise).
   */
  readonly deferred?: boolean;
}

const isNumberArray = (value: unknown): value is NumberArray =>
  Array.isArray(value) && value.every((x) => typeof x === 'number');

/** What the engine does with our tensors. Parameters are the user's arrays, updated in place. */
const storage: TensorStorage<NumberArray> = {
  accepts: isNumberArray,
  size: (a) => a.length,
  clone: (a) => a.slice(),
  zerosLike: (a) => new Array<number>(a.length).fill(0),
  fromHost: (values) => Array.from(values),
  assign(dst, src) {
    for (let i = 0; i < src.length; i++) dst[i] = src[i];
  },
  read: (a) => Float64Array.from(a),
  allFinite: (a) => a.every(Number.isFinite),
  dispose: () => {},
  // A call that takes effect later must not see the caller refill its gradient arrays.
  capture: (a) => a.slice(),
};

const kernels = new WeakMap<KernelPlan, LoopKernel>();

/**
 * Runs one program over one group by lowering its traced graph to a JavaScript loop. The core's
 * kernel plan decides everything that must be the same on every backend (each lerp's branch, the
 * reciprocals and complements of the per-step scalars); the loop updates the arrays in place.
 */
function runProgram({ graph, scalars, members }: RunRequest<NumberArray>): void {
  const plan = planFor(graph, scalars);
  let kernel = kernels.get(plan);
  if (!kernel) {
    kernel = compileLoop(plan);
    kernels.set(plan, kernel);
  }
  const args = scalarValues(plan, scalars);
  for (const { slots } of members) {
    kernel(
      graph.inputs.map((name) => slots[name]),
      plan.stores.map((name) => slots[name]),
      args,
    );
  }
}

const reductions = new WeakMap<KernelPlan, ReductionKernel>();

/** Sums of a reduction's terms (ScheduleFree+'s Σ|g| and Σ g·(z − x)) over one group, in float64. */
function reduceProgram({ graph, scalars, members }: ReduceRequest<NumberArray>): number[] {
  const plan = planFor(graph, scalars);
  let kernel = reductions.get(plan);
  if (!kernel) {
    kernel = compileReduction(plan);
    reductions.set(plan, kernel);
  }
  const sums = Object.keys(graph.outputs).map(() => 0);
  for (const { slots } of members) {
    kernel(
      graph.inputs.map((name) => slots[name]),
      scalarValues(plan, scalars),
    ).forEach((v, j) => {
      sums[j] += v;
    });
  }
  return sums;
}

const onLaterTask = <R>(fn: () => R): Promise<R> =>
  new Promise((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(fn());
      } catch (error) {
        reject(error);
      }
    }, 0),
  );

/** The backend: synchronous, or `deferred` (runs and reads complete later). */
export function numberArrayBackend(options: NumberArrayBackendOptions = {}): Backend<NumberArray> {
  const execution: Execution<NumberArray> = options.deferred
    ? {
        run: (request) => onLaterTask(() => runProgram(request)),
        reduce: (request) => onLaterTask(() => reduceProgram(request)),
      }
    : { run: runProgram, reduce: reduceProgram };
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: options.deferred ? 'number-array-deferred' : 'number-array',
    storage: options.deferred
      ? { ...storage, read: (a) => onLaterTask(() => Float64Array.from(a)) }
      : storage,
    execution,
    capabilities: { layout: 'per-parameter', dtype: 'float64', reductions: true },
  };
}
