import type { Backend } from '../backend.js';
import { compileToJs, type FusedKernel } from '../ir/compile-js.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpret.js';
import { trace } from '../ir/trace.js';
import type { ElementwiseProgram } from '../program.js';
import { isTypedArray, type TypedArray, TypedArrayOps } from './ops.js';

/**
 * How the typed-array backend executes a program:
 * - `fused` (default): trace once, compile the graph into one JS loop, run it in place;
 * - `eager`: call the program with {@link TypedArrayOps}, one full-array pass per operation;
 * - `trace`: trace once and evaluate the graph with the IR interpreter (tests the IR itself).
 */
export type TypedArrayExecution = 'fused' | 'eager' | 'trace';

const graphs = new Map<string, Graph>();
const kernels = new Map<string, FusedKernel>();

/** The traced graph of a program, traced once per program key. */
export function graphOf(program: ElementwiseProgram): Graph {
  let graph = graphs.get(program.key);
  if (!graph) {
    graph = trace(program);
    graphs.set(program.key, graph);
  }
  return graph;
}

function kernelOf(program: ElementwiseProgram): FusedKernel {
  let kernel = kernels.get(program.key);
  if (!kernel) {
    kernel = compileToJs(graphOf(program));
    kernels.set(program.key, kernel);
  }
  return kernel;
}

const eagerOps = new TypedArrayOps();

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
  return {
    ...base,
    run: (program, slots, scalars) => kernelOf(program)(slots, scalars),
  };
}
