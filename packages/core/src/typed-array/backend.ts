import {
  BACKEND_SPEC_VERSION,
  type Backend,
  eagerExecution,
  type ReduceRequest,
  type TensorStorage,
} from '../backend.js';
import { graphOf } from '../ir/graph-cache.js';
import { interpret } from '../ir/interpret.js';
import { compileLoop, compileReduction, type LoopKernel, type ReductionKernel } from '../lowering/js-loop.js';
import { type KernelPlan, planFor, scalarValues } from '../lowering/kernel-plan.js';
import type { ElementwiseProgram } from '../program.js';
import { allFiniteWasm, runGraphWasm } from '../wasm/runtime.js';
import { allFinite, isTypedArray, type TypedArray, TypedArrayOps } from './ops.js';

/**
 * How the typed-array backend executes a program:
 * - `fused` (the default of {@link typedArrayBackend}): trace once, compile the graph into one JS
 *   loop computing in float64, run it in place;
 * - `eager`: call the program with {@link TypedArrayOps}, one full-array pass per operation;
 * - `trace`: trace once and evaluate the graph with the IR interpreter (tests the IR itself);
 * - `wasm`: for Float32Array, trace once and run the graph as a WebAssembly SIMD kernel (float32
 *   arithmetic, one rounding per operation). Parameters and gradients stream through wasm memory in
 *   cache-sized chunks; the state of large parameters lives in wasm memory. Gradients are checked for
 *   NaN/Infinity with SIMD too. Float64Array, or an engine without wasm SIMD, uses the fused loop.
 *   The optimizer classes' default.
 */
export type TypedArrayExecution = 'fused' | 'eager' | 'trace' | 'wasm';

const kernels = new WeakMap<KernelPlan, LoopKernel>();

/** Runs a program as one generated JavaScript loop (float64 arithmetic), in place. */
function runLoop(
  program: ElementwiseProgram,
  slots: Record<string, TypedArray>,
  scalars: Readonly<Record<string, number>>,
): void {
  const graph = graphOf(program);
  const plan = planFor(graph, scalars);
  let kernel = kernels.get(plan);
  if (!kernel) {
    kernel = compileLoop(plan);
    kernels.set(plan, kernel);
  }
  kernel(
    graph.inputs.map((name) => slots[name]),
    plan.stores.map((name) => slots[name]),
    scalarValues(plan, scalars),
  );
}

const eagerOps = new TypedArrayOps();

/** Below this many elements the JavaScript finiteness check is as fast as copying into wasm. */
const WASM_FINITE_MIN = 1024;

/** The SIMD check for large Float32Arrays, else the JavaScript one. */
function allFiniteFast(a: TypedArray): boolean {
  if (a instanceof Float32Array && a.length >= WASM_FINITE_MIN) {
    const finite = allFiniteWasm(a);
    if (finite !== undefined) return finite;
  }
  return allFinite(a);
}

function allFloat32(slots: Record<string, TypedArray>): slots is Record<string, Float32Array> {
  for (const name in slots) if (!(slots[name] instanceof Float32Array)) return false;
  return true;
}

type RunOne = (
  program: ElementwiseProgram,
  slots: Record<string, TypedArray>,
  scalars: Readonly<Record<string, number>>,
) => void;

const runners: Record<Exclude<TypedArrayExecution, 'eager'>, RunOne> = {
  fused: runLoop,
  trace(program, slots, scalars) {
    const outputs = interpret(graphOf(program), eagerOps, slots, scalars);
    for (const name of program.outputs) if (outputs[name] !== slots[name]) slots[name].set(outputs[name]);
  },
  wasm(program, slots, scalars) {
    if (allFloat32(slots) && runGraphWasm(graphOf(program), slots, scalars)) return;
    runLoop(program, slots, scalars);
  },
};

const ctorOf = (a: TypedArray) => a.constructor as Float32ArrayConstructor | Float64ArrayConstructor;

/** Storage over typed arrays: parameters are the user's arrays, updated in place. */
const storage: TensorStorage<TypedArray> = {
  accepts: isTypedArray,
  size: (a) => a.length,
  clone: (a) => a.slice(),
  zerosLike: (a) => new (ctorOf(a))(a.length),
  fromHost: (values, like) => ctorOf(like).from(values),
  assign: (dst, src) => dst.set(src),
  read: (a) => a.slice(),
  allFinite: allFiniteFast,
  dispose: () => {},
  describeGradient: (param, grad) =>
    grad.constructor === param.constructor
      ? null
      : `it is a ${grad.constructor.name} but the parameter is a ${param.constructor.name}; pass the same array type`,
  capture: (a) => a.slice(),
};

const reductions = new WeakMap<KernelPlan, ReductionKernel>();

/** Sums of a reduction's terms over every member, accumulated in float64. */
function reduceLoop({ graph, scalars, members }: ReduceRequest<TypedArray>): number[] {
  const plan = planFor(graph, scalars);
  let kernel = reductions.get(plan);
  if (!kernel) {
    kernel = compileReduction(plan);
    reductions.set(plan, kernel);
  }
  const args = scalarValues(plan, scalars);
  const sums = Object.keys(graph.outputs).map(() => 0);
  for (const { slots } of members) {
    const part = kernel(
      graph.inputs.map((name) => slots[name]),
      args,
    );
    part.forEach((v, j) => {
      sums[j] += v;
    });
  }
  return sums;
}

/** The core backend over Float32Array / Float64Array parameters. */
export function typedArrayBackend(execution: TypedArrayExecution = 'fused'): Backend<TypedArray> {
  const run = execution === 'eager' ? null : runners[execution];
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: `typed-array-${execution}`,
    storage,
    execution: {
      ...(run
        ? {
            run: ({ program, scalars, members }) => {
              for (const m of members) run(program, m.slots, scalars);
            },
          }
        : eagerExecution(eagerOps)),
      reduce: reduceLoop,
    },
    capabilities: { layout: 'per-parameter', reductions: true },
  };
}
