import type { KernelPlan } from './kernel-plan.js';

/**
 * Expressions of a planned graph in a C-like source language (JavaScript, GLSL, WGSL, gpu.js's
 * JavaScript subset): one per live tensor node, in topological order, each naming its operands as
 * locals `v<id>`. A target supplies only how to read an input element, how to name a scalar
 * argument, and its square root.
 */
export interface ExpressionDialect {
  /** Reads one element of tensor input `name`. */
  input(name: string): string;
  /** The scalar argument at `index` of {@link KernelPlan.uses}. */
  scalar(index: number): string;
  /** Square root of an expression. */
  sqrt(x: string): string;
  /** Absolute value of an expression. */
  abs(x: string): string;
}

/** The local holding node `id`'s value. */
export const localName = (id: number): string => `v${id}`;

const SYMBOL = { add: '+', sub: '-', mul: '*', div: '/' } as const;

/** One expression per live tensor node of the plan, in order. */
export function nodeExpressions(
  plan: KernelPlan,
  dialect: ExpressionDialect,
): Array<{ readonly id: number; readonly expr: string }> {
  const { graph, live, operand, small } = plan;
  const out: Array<{ id: number; expr: string }> = [];
  const v = localName;
  for (const node of graph.nodes) {
    if (!live.has(node.id) || node.kind !== 'tensor') continue;
    let expr: string;
    switch (node.op) {
      case 'input':
        expr = dialect.input(node.name);
        break;
      case 'sqrt':
        expr = dialect.sqrt(v(node.args[0]));
        break;
      case 'abs':
        expr = dialect.abs(v(node.args[0]));
        break;
      case 'lerp': {
        const [a, b] = [v(node.args[0]), v(node.args[1])];
        const w = dialect.scalar(operand.get(node.id)!);
        expr = small.has(node.id) ? `${a} + ${w} * (${b} - ${a})` : `${b} - (${b} - ${a}) * ${w}`;
        break;
      }
      default: {
        const [a, b] = node.args;
        const s = operand.get(node.id);
        if (s === undefined) expr = `${v(a)} ${SYMBOL[node.op]} ${v(b)}`;
        // A scalar divisor arrives as its reciprocal.
        else expr = `${v(a)} ${node.op === 'div' ? '*' : SYMBOL[node.op]} ${dialect.scalar(s)}`;
      }
    }
    out.push({ id: node.id, expr });
  }
  return out;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws unless every slot and scalar name of the plan's graph can be used as an identifier. */
export function assertIdentifiers(plan: KernelPlan): void {
  const { graph } = plan;
  for (const name of [...graph.inputs, ...graph.scalars, ...Object.keys(graph.outputs)]) {
    if (!IDENT.test(name)) throw new Error(`cannot lower graph ${graph.key}: "${name}" is not an identifier`);
  }
}
