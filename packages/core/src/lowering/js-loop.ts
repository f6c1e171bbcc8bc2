import { type ExpressionDialect, localName, nodeExpressions } from './expressions.js';
import type { KernelPlan } from './kernel-plan.js';

/**
 * A planned graph as one JavaScript loop over flat arrays. `inputs` are in the graph's input order,
 * `outputs` in the order the kernel was generated for, `args` the plan's scalar values. Arithmetic
 * runs in float64 and rounds once per stored element, so a float32 array gets one rounding per step
 * and slot. An output array may be the same object as an input (in place): every element's inputs
 * are read before any of its outputs is written.
 */
export type LoopKernel = (
  inputs: ReadonlyArray<ArrayLike<number>>,
  outputs: ReadonlyArray<{ [i: number]: number; readonly length: number }>,
  args: readonly number[],
) => void;

/**
 * The source of a {@link LoopKernel} body writing `outputs` (slot names of the graph): the plan's
 * `stores` to update the input arrays in place, or every output of the graph to fill new arrays.
 */
export function generateLoopSource(plan: KernelPlan, outputs: readonly string[] = plan.stores): string {
  const { graph } = plan;
  const inputIndex = new Map(graph.inputs.map((name, k) => [name, k]));
  const dialect: ExpressionDialect = {
    input: (name) => `in${inputIndex.get(name)}[i]`,
    scalar: (index) => `a${index}`,
    sqrt: (x) => `Math.sqrt(${x})`,
    abs: (x) => `Math.abs(${x})`,
  };
  const lines = ['"use strict";'];
  for (const name of plan.loads)
    lines.push(`const in${inputIndex.get(name)} = inputs[${inputIndex.get(name)}];`);
  outputs.forEach((_, j) => {
    lines.push(`const out${j} = outputs[${j}];`);
  });
  plan.uses.forEach((_, u) => {
    lines.push(`const a${u} = args[${u}];`);
  });
  const first = plan.loads.length > 0 ? `in${inputIndex.get(plan.loads[0])}` : 'out0';
  lines.push(`const n = ${first}.length;`);
  lines.push('for (let i = 0; i < n; i++) {');
  for (const { id, expr } of nodeExpressions(plan, dialect))
    lines.push(`  const ${localName(id)} = ${expr};`);
  outputs.forEach((name, j) => {
    lines.push(`  out${j}[i] = ${localName(graph.outputs[name])};`);
  });
  lines.push('}');
  return lines.join('\n');
}

/** Compiles {@link generateLoopSource}. The source comes from our own IR, never from user text. */
export function compileLoop(plan: KernelPlan, outputs: readonly string[] = plan.stores): LoopKernel {
  return new Function('inputs', 'outputs', 'args', generateLoopSource(plan, outputs)) as LoopKernel;
}

/**
 * A planned reduction graph as one JavaScript loop: the sum over every element of each output term,
 * accumulated in float64. `inputs` are in the graph's input order.
 */
export type ReductionKernel = (inputs: ReadonlyArray<ArrayLike<number>>, args: readonly number[]) => number[];

/** Compiles the loop of a reduction (see {@link ReductionKernel}). */
export function compileReduction(plan: KernelPlan): ReductionKernel {
  const { graph } = plan;
  const inputIndex = new Map(graph.inputs.map((name, k) => [name, k]));
  const dialect: ExpressionDialect = {
    input: (name) => `in${inputIndex.get(name)}[i]`,
    scalar: (index) => `a${index}`,
    sqrt: (x) => `Math.sqrt(${x})`,
    abs: (x) => `Math.abs(${x})`,
  };
  const terms = Object.keys(graph.outputs);
  const lines = ['"use strict";'];
  for (const name of plan.loads)
    lines.push(`const in${inputIndex.get(name)} = inputs[${inputIndex.get(name)}];`);
  plan.uses.forEach((_, u) => {
    lines.push(`const a${u} = args[${u}];`);
  });
  terms.forEach((_, j) => {
    lines.push(`let sum${j} = 0;`);
  });
  lines.push(`const n = in${inputIndex.get(plan.loads[0])}.length;`);
  lines.push('for (let i = 0; i < n; i++) {');
  for (const { id, expr } of nodeExpressions(plan, dialect))
    lines.push(`  const ${localName(id)} = ${expr};`);
  terms.forEach((name, j) => {
    lines.push(`  sum${j} += ${localName(graph.outputs[name])};`);
  });
  lines.push('}');
  lines.push(`return [${terms.map((_, j) => `sum${j}`).join(', ')}];`);
  return new Function('inputs', 'args', lines.join('\n')) as ReductionKernel;
}
