import type { Backend } from '../backend.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpret.js';
import { trace } from '../ir/trace.js';
import { compileLoop, type LoopKernel } from '../lowering/js-loop.js';
import { type KernelPlan, planFor, scalarValues } from '../lowering/kernel-plan.js';
import type { ElementwiseProgram } from '../program.js';
import { allFiniteWasm, runGraphWasm } from '../wasm/runtime.js';
import { isTypedArray, type TypedArray, TypedArrayOps } from './ops.js';

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

const graphs = new Map<string, Graph>();
const kernels = new WeakMap<KernelPlan, LoopKernel>();

/** The traced graph of a program, traced once per program key. */
export function graphOf(program: ElementwiseProgram): Graph {
  let graph = graphs.get(program.key);
  if (!graph) {
    graph = trace(program);
    graphs.set(program.key, graph);
  }
  return graph;
}

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

/** {@link TypedArrayOps} whose `allFinite` uses the SIMD check for Float32Array. */
class WasmTypedArrayOps extends TypedArrayOps {
  override allFinite(a: TypedArray): boolean {
    if (a instanceof Float32Array && a.length >= WASM_FINITE_MIN) {
      const finite = allFiniteWasm(a);
      if (finite !== undefined) return finite;
    }
    return super.allFinite(a);
  }
}

const wasmOps = new WasmTypedArrayOps();

function allFloat32(slots: Record<string, TypedArray>): slots is Record<string, Float32Array> {
  for (const name in slots) if (!(slots[name] instanceof Float32Array)) return false;
  return true;
}

/** The core backend over Float32Array / Float64Array parameters. */
export function typedArrayBackend(execution: TypedArrayExecution = 'fused'): Backend<TypedArray> {
  const base = {
    ops: eagerOps,
    accepts: isTypedArray,
    checkGradient: (param: TypedArray, grad: TypedArray) =>
      grad.constructor === param.constructor
        ? null
        : `it is a ${grad.constructor.name} but the parameter is a ${param.constructor.name}; pass the same array type`,
  };
  if (execution === 'eager') return base;
  if (execution === 'trace') {
    return {
      ...base,
      run(program, slots, scalars) {
        const outputs = interpret(graphOf(program), eagerOps, slots, scalars);
        for (const name of program.outputs) if (outputs[name] !== slots[name]) slots[name].set(outputs[name]);
      },
    };
  }
  if (execution === 'wasm') {
    return {
      ...base,
      ops: wasmOps,
      run(program, slots, scalars) {
        if (allFloat32(slots) && runGraphWasm(graphOf(program), slots, scalars)) return;
        runLoop(program, slots, scalars);
      },
    };
  }
  return {
    ...base,
    run: runLoop,
  };
}
