import type { ElementwiseProgram } from '../program.js';
import { TENSOR_OPS_SPEC_VERSION, type TensorOps } from '../tensor-ops.js';
import { type BinaryOp, type Graph, type IRNode, nodeArgs } from './graph.js';

/** A symbolic value recorded by the tracing backend. */
export class Symbolic {
  constructor(
    readonly id: number,
    readonly kind: 'tensor' | 'scalar',
  ) {}
}

function notWhileTracing(what: string): never {
  throw new Error(
    `TracingOps.${what} is not available while tracing: the traced program must be elementwise only`,
  );
}

/**
 * A {@link TensorOps} whose tensors and scalars are symbolic: every call appends a node to a graph
 * instead of computing. Storage operations are not traceable.
 */
export class TracingOps implements TensorOps<Symbolic, Symbolic> {
  readonly specVersion = TENSOR_OPS_SPEC_VERSION;
  readonly name = 'trace';
  readonly nodes: IRNode[] = [];

  tensorInput(name: string): Symbolic {
    return this.push({ id: this.nodes.length, op: 'input', kind: 'tensor', name });
  }
  scalarInput(name: string): Symbolic {
    return this.push({ id: this.nodes.length, op: 'scalar', kind: 'scalar', name });
  }

  add(a: Symbolic, b: Symbolic): Symbolic {
    return this.binary('add', a, this.tensor(b));
  }
  sub(a: Symbolic, b: Symbolic): Symbolic {
    return this.binary('sub', a, this.tensor(b));
  }
  mul(a: Symbolic, b: Symbolic): Symbolic {
    return this.binary('mul', a, this.tensor(b));
  }
  div(a: Symbolic, b: Symbolic): Symbolic {
    return this.binary('div', a, this.tensor(b));
  }
  sqrt(a: Symbolic): Symbolic {
    return this.push({ id: this.nodes.length, op: 'sqrt', kind: 'tensor', args: [this.tensor(a).id] });
  }
  abs(a: Symbolic): Symbolic {
    return this.push({ id: this.nodes.length, op: 'abs', kind: 'tensor', args: [this.tensor(a).id] });
  }
  addScalar(a: Symbolic, s: Symbolic): Symbolic {
    return this.binary('add', a, this.scalar(s));
  }
  mulScalar(a: Symbolic, s: Symbolic): Symbolic {
    return this.binary('mul', a, this.scalar(s));
  }
  divScalar(a: Symbolic, s: Symbolic): Symbolic {
    return this.binary('div', a, this.scalar(s));
  }
  lerp(a: Symbolic, b: Symbolic, w: Symbolic): Symbolic {
    const args = [this.tensor(a).id, this.tensor(b).id, this.scalar(w).id] as const;
    return this.push({ id: this.nodes.length, op: 'lerp', kind: 'tensor', args });
  }

  size(): number {
    return notWhileTracing('size');
  }
  clone(): Symbolic {
    return notWhileTracing('clone');
  }
  zerosLike(): Symbolic {
    return notWhileTracing('zerosLike');
  }
  assign(): void {
    notWhileTracing('assign');
  }
  read(): never {
    return notWhileTracing('read');
  }
  write(): void {
    notWhileTracing('write');
  }
  allFinite(): boolean {
    return notWhileTracing('allFinite');
  }
  dispose(): void {}

  private binary(op: BinaryOp, a: Symbolic, b: Symbolic): Symbolic {
    return this.push({ id: this.nodes.length, op, kind: 'tensor', args: [this.tensor(a).id, b.id] });
  }
  private tensor(v: Symbolic): Symbolic {
    if (!(v instanceof Symbolic) || v.kind !== 'tensor') throw new Error('expected a traced tensor');
    return v;
  }
  private scalar(v: Symbolic): Symbolic {
    if (!(v instanceof Symbolic) || v.kind !== 'scalar') throw new Error('expected a traced scalar');
    return v;
  }
  private push(node: IRNode): Symbolic {
    this.nodes.push(node);
    return new Symbolic(node.id, node.kind);
  }
}

/**
 * Records a program as a {@link Graph}: calls its body once with symbolic tensors and scalars, then
 * drops nodes no output depends on (inputs are always kept, so lowerings see every declared input).
 */
export function trace(program: ElementwiseProgram): Graph {
  const ops = new TracingOps();
  const tensors: Record<string, Symbolic> = {};
  const scalars: Record<string, Symbolic> = {};
  for (const name of program.inputs) tensors[name] = ops.tensorInput(name);
  for (const name of program.scalars) scalars[name] = ops.scalarInput(name);
  const result = program.body(ops, tensors, scalars);

  const outputIds: Record<string, number> = {};
  for (const name of program.outputs) {
    const value = result[name];
    if (!(value instanceof Symbolic))
      throw new Error(`program ${program.key} did not produce output "${name}"`);
    outputIds[name] = value.id;
  }
  return prune(program, ops.nodes, outputIds);
}

function prune(program: ElementwiseProgram, nodes: IRNode[], outputIds: Record<string, number>): Graph {
  const live = new Set<number>(Object.values(outputIds));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (node.op === 'input' || node.op === 'scalar') live.add(i);
    if (live.has(i)) for (const a of nodeArgs(node)) live.add(a);
  }
  const remap = new Map<number, number>();
  const kept: IRNode[] = [];
  for (const node of nodes) {
    if (!live.has(node.id)) continue;
    const id = kept.length;
    remap.set(node.id, id);
    const moved =
      'args' in node ? { ...node, id, args: node.args.map((a) => remap.get(a)!) } : { ...node, id };
    kept.push(moved as IRNode);
  }
  const outputs: Record<string, number> = {};
  for (const [name, id] of Object.entries(outputIds)) outputs[name] = remap.get(id)!;
  return Object.freeze({
    key: program.key,
    nodes: kept,
    inputs: [...program.inputs],
    scalars: [...program.scalars],
    outputs,
  });
}
