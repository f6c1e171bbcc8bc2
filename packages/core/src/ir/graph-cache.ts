import type { ElementwiseProgram } from '../program.js';
import type { Graph } from './graph.js';
import { trace } from './trace.js';

const graphs = new Map<string, Graph>();

/** The traced graph of a program, traced once per program key and shared by every backend. */
export function graphOf(program: ElementwiseProgram): Graph {
  let graph = graphs.get(program.key);
  if (!graph) {
    graph = trace(program);
    graphs.set(program.key, graph);
  }
  return graph;
}
