import { type Graph, type IRNode, nodeArgs } from '@schedulefree/core';

/**
 * A traced program compiled to one JavaScript loop over flat float32 arrays: it reads `inputs` (in
 * `graph.inputs` order) and writes fresh `outputs` (in {@link outputNames} order). Inputs are never
 * written: tfjs tensors are immutable and may share storage with other tensors.
 */
export type HostKernel = (
  inputs: readonly Float32Array[],
  outputs: readonly Float32Array[],
  scalars: Readonly<Record<string, number>>,
) => void;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The graph's outputs in a fixed order (the order of the program's `outputs`). */
export function outputNames(graph: Graph): string[] {
  return Object.keys(graph.outputs);
}

function scalarName(node: IRNode): string {
  if (node.op !== 'scalar') throw new Error('expected a scalar input node');
  return node.name;
}

/**
 * Source of the loop body for a graph. Per element: load each input once, evaluate every node as a
 * float64 local, store each output once (rounded to float32 by the store). Per-step scalar work
 * (lerp branch, 1 − w, reciprocals of scalar divisors) is hoisted out of the loop.
 */
export function hostKernelSource(graph: Graph): string {
  for (const name of graph.scalars) {
    if (!IDENT.test(name)) throw new Error(`cannot compile ${graph.key}: "${name}" is not an identifier`);
  }
  const lines = ['"use strict";'];
  graph.inputs.forEach((_, i) => {
    lines.push(`const in${i} = inputs[${i}];`);
  });
  const outs = outputNames(graph);
  outs.forEach((_, i) => {
    lines.push(`const out${i} = outputs[${i}];`);
  });
  for (const name of graph.scalars) lines.push(`const s_${name} = +scalars.${name};`);
  const reciprocal = new Set<string>();
  for (const node of graph.nodes) {
    if (node.op === 'div' && graph.nodes[node.args[1]].kind === 'scalar') {
      reciprocal.add(scalarName(graph.nodes[node.args[1]]));
    }
  }
  for (const name of reciprocal) lines.push(`const inv_${name} = 1 / s_${name};`);
  for (const node of graph.nodes) {
    if (node.op !== 'lerp') continue;
    const w = `s_${scalarName(graph.nodes[node.args[2]])}`;
    lines.push(`const small${node.id} = Math.abs(${w}) < 0.5, omw${node.id} = 1 - ${w};`);
  }
  const inputIndex = new Map(graph.inputs.map((name, i) => [name, i]));
  const used = new Set<number>();
  for (const id of Object.values(graph.outputs)) used.add(id);
  for (const node of graph.nodes) for (const a of nodeArgs(node)) used.add(a);
  lines.push('const n = out0.length;');
  lines.push('for (let i = 0; i < n; i++) {');
  const ref = (id: number) => {
    const node = graph.nodes[id];
    return node.op === 'scalar' ? `s_${node.name}` : `v${id}`;
  };
  for (const node of graph.nodes) {
    if (!used.has(node.id)) continue;
    let expr: string | null;
    switch (node.op) {
      case 'input':
        expr = `in${inputIndex.get(node.name)}[i]`;
        break;
      case 'scalar':
        expr = null;
        break;
      case 'sqrt':
        expr = `Math.sqrt(${ref(node.args[0])})`;
        break;
      case 'abs':
        expr = `Math.abs(${ref(node.args[0])})`;
        break;
      case 'lerp': {
        const [a, b] = [ref(node.args[0]), ref(node.args[1])];
        const w = ref(node.args[2]);
        expr = `small${node.id} ? ${a} + ${w} * (${b} - ${a}) : ${b} - (${b} - ${a}) * omw${node.id}`;
        break;
      }
      case 'div': {
        const divisor = graph.nodes[node.args[1]];
        expr =
          divisor.kind === 'scalar'
            ? `${ref(node.args[0])} * inv_${scalarName(divisor)}`
            : `${ref(node.args[0])} / ${ref(node.args[1])}`;
        break;
      }
      default: {
        const symbol = { add: '+', sub: '-', mul: '*' }[node.op];
        expr = `${ref(node.args[0])} ${symbol} ${ref(node.args[1])}`;
      }
    }
    if (expr !== null) lines.push(`  const v${node.id} = ${expr};`);
  }
  outs.forEach((name, i) => {
    lines.push(`  out${i}[i] = ${ref(graph.outputs[name])};`);
  });
  lines.push('}');
  return lines.join('\n');
}

/** Compiles a graph into a {@link HostKernel}. The source comes from our own IR, never from user text. */
export function compileHostKernel(graph: Graph): HostKernel {
  return new Function('inputs', 'outputs', 'scalars', hostKernelSource(graph)) as HostKernel;
}
