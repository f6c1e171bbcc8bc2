import type { TensorOps } from '../tensor-ops.js';
import type { Graph } from './graph.js';

/**
 * Evaluates a traced graph with any eager {@link TensorOps}. This is the reference semantics of the
 * IR that every lowering (fused JS loop, ONNX, gpu.js) must match.
 */
export function interpret<T>(
  graph: Graph,
  ops: TensorOps<T, number>,
  tensors: Readonly<Record<string, T>>,
  scalars: Readonly<Record<string, number>>,
): Record<string, T> {
  const values: (T | number)[] = new Array(graph.nodes.length);
  const tensor = (id: number) => values[id] as T;
  const scalar = (id: number) => values[id] as number;
  for (const node of graph.nodes) {
    switch (node.op) {
      case 'input':
        values[node.id] = tensors[node.name];
        break;
      case 'scalar':
        values[node.id] = scalars[node.name];
        break;
      case 'sqrt':
        values[node.id] = ops.sqrt(tensor(node.args[0]));
        break;
      case 'abs':
        values[node.id] = ops.abs(tensor(node.args[0]));
        break;
      case 'lerp':
        values[node.id] = ops.lerp(tensor(node.args[0]), tensor(node.args[1]), scalar(node.args[2]));
        break;
      default: {
        const [a, b] = node.args;
        const rightIsScalar = graph.nodes[b].kind === 'scalar';
        values[node.id] = rightIsScalar
          ? binaryScalar(ops, node.op, tensor(a), scalar(b))
          : binary(ops, node.op, tensor(a), tensor(b));
      }
    }
  }
  const outputs: Record<string, T> = {};
  for (const [name, id] of Object.entries(graph.outputs)) outputs[name] = tensor(id);
  return outputs;
}

function binary<T>(ops: TensorOps<T, number>, op: 'add' | 'sub' | 'mul' | 'div', a: T, b: T): T {
  return ops[op](a, b);
}

function binaryScalar<T>(ops: TensorOps<T, number>, op: 'add' | 'sub' | 'mul' | 'div', a: T, s: number): T {
  switch (op) {
    case 'add':
      return ops.addScalar(a, s);
    case 'sub':
      return ops.addScalar(a, -s);
    case 'mul':
      return ops.mulScalar(a, s);
    case 'div':
      return ops.divScalar(a, s);
  }
}
