import type { HostArray } from '../tensor-ops.js';
import { type Graph, type IRNode, nodeArgs } from './graph.js';

/** A compiled graph: reads its input arrays and writes its outputs in place, in one loop. */
export type FusedKernel = (
  tensors: Readonly<Record<string, HostArray>>,
  scalars: Readonly<Record<string, number>>,
) => void;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Generates the JavaScript source of one loop that evaluates the whole graph per element: each
 * element's inputs are loaded into locals, every node is one expression, outputs are stored back.
 * Memory traffic is one read per input and one write per output, with no temporaries.
 */
export function generateLoopSource(graph: Graph): string {
  for (const name of [...graph.inputs, ...graph.scalars]) {
    if (!IDENT.test(name))
      throw new Error(`cannot compile graph ${graph.key}: "${name}" is not an identifier`);
  }
  const referenced = new Set<number>(Object.values(graph.outputs));
  for (const node of graph.nodes) for (const a of nodeArgs(node)) referenced.add(a);
  const used = new Set(
    graph.nodes
      .filter((n) => n.op === 'input' && referenced.has(n.id))
      .map((n) => (n as { name: string }).name),
  );
  const lines: string[] = ['"use strict";'];
  for (const name of graph.inputs) lines.push(`const t_${name} = tensors.${name};`);
  for (const name of graph.scalars) lines.push(`const s_${name} = scalars.${name};`);
  // Division by a per-step scalar becomes multiplication by its reciprocal, computed once per run:
  // a division per element is the slowest operation in the loop (at most 1 ulp apart).
  const reciprocals = new Set<string>();
  for (const node of graph.nodes) {
    if (node.op === 'div' && graph.nodes[node.args[1]].kind === 'scalar')
      reciprocals.add(scalarRef(graph.nodes[node.args[1]]));
  }
  for (const ref of reciprocals) lines.push(`const inv_${ref} = 1 / ${ref};`);
  // Loop-invariant parts of each lerp: which branch, and 1 − w.
  for (const node of graph.nodes) {
    if (node.op !== 'lerp') continue;
    const w = scalarRef(graph.nodes[node.args[2]]);
    lines.push(`const small${node.id} = Math.abs(${w}) < 0.5, w${node.id} = ${w}, omw${node.id} = 1 - ${w};`);
  }
  const first = graph.inputs.find((n) => used.has(n)) ?? graph.inputs[0];
  lines.push(`const n = t_${first}.length;`);
  lines.push('for (let i = 0; i < n; i++) {');
  for (const node of graph.nodes) {
    if (node.op === 'input' && !referenced.has(node.id)) continue;
    const expr = expression(graph, node);
    if (expr !== null) lines.push(`  const v${node.id} = ${expr};`);
  }
  for (const [name, id] of Object.entries(graph.outputs)) lines.push(`  t_${name}[i] = v${id};`);
  lines.push('}');
  return lines.join('\n');
}

function scalarRef(node: IRNode): string {
  if (node.op !== 'scalar') throw new Error('lerp weight must be a scalar input');
  return `s_${node.name}`;
}

function expression(graph: Graph, node: IRNode): string | null {
  const ref = (id: number) => {
    const n = graph.nodes[id];
    return n.op === 'scalar' ? `s_${n.name}` : `v${id}`;
  };
  switch (node.op) {
    case 'input':
      return `t_${node.name}[i]`;
    case 'scalar':
      return null;
    case 'sqrt':
      return `Math.sqrt(${ref(node.args[0])})`;
    case 'lerp': {
      const [a, b] = [ref(node.args[0]), ref(node.args[1])];
      const id = node.id;
      return `small${id} ? ${a} + w${id} * (${b} - ${a}) : ${b} - (${b} - ${a}) * omw${id}`;
    }
    case 'add':
      return `${ref(node.args[0])} + ${ref(node.args[1])}`;
    case 'sub':
      return `${ref(node.args[0])} - ${ref(node.args[1])}`;
    case 'mul':
      return `${ref(node.args[0])} * ${ref(node.args[1])}`;
    case 'div': {
      const divisor = graph.nodes[node.args[1]];
      return divisor.op === 'scalar'
        ? `${ref(node.args[0])} * inv_s_${divisor.name}`
        : `${ref(node.args[0])} / ${ref(node.args[1])}`;
    }
  }
}

/**
 * Compiles a graph into a fused loop over typed arrays. Arithmetic runs in float64 and rounds once
 * per stored output, so a float32 buffer gets at most one rounding per step and slot.
 */
export function compileToJs(graph: Graph): FusedKernel {
  // The source is generated from our own IR (identifiers are validated above), never from user text.
  return new Function('tensors', 'scalars', generateLoopSource(graph)) as FusedKernel;
}
