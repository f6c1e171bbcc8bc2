import type { Graph, IRNode } from '@schedulefree/core';
import type { Dim, GraphSpec, Initializer, NodeSpec, ValueInfo } from './onnx-model.js';

/**
 * Lowers the core's traced IR (an elementwise {@link Graph}) to an ONNX graph: every tensor slot is
 * a 1-D float32 input of one length, every per-step scalar a 0-d float32 input, so one session runs
 * every step of a program whatever the scalar values are.
 */

/** How to lower one graph. */
export interface LowerOptions {
  /** Length of every tensor slot: a fixed size, or a symbolic dimension such as `"n"`. */
  readonly length: Dim;
  /**
   * Sizes of the gradient parts, when a parameter group's gradients arrive as separate tensors: the
   * graph then takes inputs `grad.0`, `grad.1`, … and concatenates them (one run per group, without
   * packing the gradients on the host). Absent or one part: a single `grad` input.
   */
  readonly gradParts?: readonly number[];
  /**
   * Add a 0-d output `gradCheck` = Σ grad·0: 0 when every gradient element is finite, NaN otherwise.
   * Lets a device-resident gradient be checked without reading it back.
   */
  readonly checkGrad?: boolean;
  /**
   * Lerp branches known for this run, by weight scalar name (see {@link lerpBranches}). A known
   * branch is lowered without `Where`: one pass less per lerp. Weights not listed choose their
   * branch in the graph, from the scalar input.
   */
  readonly branches?: Readonly<Record<string, LerpBranch>>;
}

/** Which of PyTorch's lerp formulas applies: `small` (|w| < 0.5) or `large`. */
export type LerpBranch = 'small' | 'large';

/** The scalar inputs a graph uses as lerp weights. */
export function lerpWeights(ir: Graph): string[] {
  const names = new Set<string>();
  for (const node of ir.nodes) {
    if (node.op !== 'lerp') continue;
    const w = ir.nodes[node.args[2]];
    if (w.op === 'scalar') names.add(w.name);
  }
  return [...names];
}

/** The lerp branch of each weight for these scalar values, decided on the float32 value as the graph would. */
export function lerpBranches(
  weights: readonly string[],
  scalars: Readonly<Record<string, number>>,
): Record<string, LerpBranch> {
  const out: Record<string, LerpBranch> = {};
  for (const name of weights) out[name] = Math.abs(Math.fround(scalars[name])) < 0.5 ? 'small' : 'large';
  return out;
}

/** What an input or output of a lowered graph is. */
export interface PortSpec {
  /** Name in the ONNX graph. */
  readonly name: string;
  /** `tensor`: a slot buffer; `scalar`: a per-step scalar; `grad-part`: one parameter's gradient; `check`: see {@link LowerOptions.checkGrad}. */
  readonly kind: 'tensor' | 'scalar' | 'grad-part' | 'check';
  /** The slot (tensors, outputs) or scalar it carries. */
  readonly slot: string;
}

/** An ONNX graph with the meaning of its inputs and outputs. */
export interface LoweredGraph {
  readonly graph: GraphSpec;
  readonly inputs: readonly PortSpec[];
  readonly outputs: readonly PortSpec[];
}

/** Name of the graph output carrying a slot's new value. */
export const outputName = (slot: string): string => `${slot}_next`;
/** Name of the output of {@link LowerOptions.checkGrad}. */
export const CHECK_OUTPUT = 'gradCheck';

const BINARY_OPS = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' } as const;

/** Accumulates ONNX nodes and constants with fresh names. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: Initializer[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(private readonly reserved: Set<string>) {}

  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`;
    while (this.reserved.has(name));
    this.reserved.add(name);
    return name;
  }

  /** A node with one output; returns the output name (`out` if given). */
  op(op: string, inputs: string[], out?: string, attributes?: NodeSpec['attributes']): string {
    const output = out ?? this.fresh(op.toLowerCase());
    this.nodes.push({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
    return output;
  }

  /** A 0-d float32 constant, shared by every use. */
  scalar(value: number): string {
    const key = String(value);
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh('const');
      this.initializers.push({ name, type: 'float32', dims: [], values: [value] });
      this.constants.set(key, name);
    }
    return name;
  }
}

/**
 * Lowers a traced graph. The IR's `lerp(a, b, w)` follows PyTorch's two branches: `a + w·(b − a)` when
 * |w| < 0.5, else `b − (b − a)·(1 − w)`. It becomes `Where(|w| < 0.5, a, b) + (b − a)·k` with the 0-d
 * `k = Where(|w| < 0.5, w, w − 1)`: `(b − a)·(w − 1)` is exactly `−((b − a)·(1 − w))`, so both branches
 * round exactly as PyTorch's do, and the branch is taken per run from the scalar input, in the graph.
 * With {@link LowerOptions.branches}, a known branch is lowered directly (no `Where`).
 */
export function lowerGraph(ir: Graph, options: LowerOptions): LoweredGraph {
  const outputsOf = Object.entries(ir.outputs);
  const reserved = new Set<string>([
    ...ir.inputs,
    ...ir.scalars,
    ...outputsOf.map(([slot]) => outputName(slot)),
    CHECK_OUTPUT,
  ]);
  if (reserved.size !== ir.inputs.length + ir.scalars.length + outputsOf.length + 1) {
    throw new Error(`cannot lower ${ir.key}: slot, scalar and output names must all differ`);
  }
  const b = new GraphBuilder(reserved);
  const parts = options.gradParts && options.gradParts.length > 1 ? options.gradParts : null;
  const tensorType = (name: string, length: Dim): ValueInfo => ({ name, type: 'float32', shape: [length] });

  const inputs: ValueInfo[] = [];
  const inputPorts: PortSpec[] = [];
  for (const slot of ir.inputs) {
    if (slot === 'grad' && parts) {
      const names = parts.map((size, i) => {
        const name = `grad.${i}`;
        inputs.push(tensorType(name, size));
        inputPorts.push({ name, kind: 'grad-part', slot: 'grad' });
        return name;
      });
      b.op('Concat', names, 'grad', { axis: { int: 0 } });
    } else {
      inputs.push(tensorType(slot, options.length));
      inputPorts.push({ name: slot, kind: 'tensor', slot });
    }
  }
  for (const name of ir.scalars) {
    inputs.push({ name, type: 'float32', shape: [] });
    inputPorts.push({ name, kind: 'scalar', slot: name });
  }

  // The value name of each IR node; outputs computed by an operator are named after their slot.
  const finalName = new Map<number, string>();
  for (const [slot, id] of outputsOf) {
    const node = ir.nodes[id];
    if (node.op !== 'input' && !finalName.has(id)) finalName.set(id, outputName(slot));
  }
  const names: string[] = [];
  const lerpScalars = new Map<number, { small: string; coef: string }>();
  const minusOne = new Map<number, string>();
  const weightMinusOne = (w: number) => {
    let name = minusOne.get(w);
    if (!name) {
      name = b.op('Sub', [names[w], b.scalar(1)]);
      minusOne.set(w, name);
    }
    return name;
  };
  const branchOf = (w: number) => {
    let found = lerpScalars.get(w);
    if (!found) {
      const wName = names[w];
      const small = b.op('Less', [b.op('Abs', [wName]), b.scalar(0.5)]);
      const coef = b.op('Where', [small, wName, weightMinusOne(w)]);
      found = { small, coef };
      lerpScalars.set(w, found);
    }
    return found;
  };
  for (const node of ir.nodes) names[node.id] = lowerNode(node);

  function lowerNode(node: IRNode): string {
    const out = finalName.get(node.id);
    switch (node.op) {
      case 'input':
      case 'scalar':
        return node.name;
      case 'sqrt':
        return b.op('Sqrt', [names[node.args[0]]], out);
      case 'abs':
        return b.op('Abs', [names[node.args[0]]], out);
      case 'lerp': {
        const [a, c, w] = node.args;
        const diff = b.op('Sub', [names[c], names[a]]);
        const known = options.branches?.[(ir.nodes[w] as { name: string }).name];
        if (known === 'small') return b.op('Add', [names[a], b.op('Mul', [diff, names[w]])], out);
        if (known === 'large') return b.op('Add', [names[c], b.op('Mul', [diff, weightMinusOne(w)])], out);
        const { small, coef } = branchOf(w);
        const base = b.op('Where', [small, names[a], names[c]]);
        return b.op('Add', [base, b.op('Mul', [diff, coef])], out);
      }
      default:
        return b.op(BINARY_OPS[node.op], [names[node.args[0]], names[node.args[1]]], out);
    }
  }

  const outputs: ValueInfo[] = [];
  const outputPorts: PortSpec[] = [];
  for (const [slot, id] of outputsOf) {
    const name = outputName(slot);
    // Inputs passed through, and a node that is a second slot's value, need their own copy.
    if (names[id] !== name) b.op('Identity', [names[id]], name);
    outputs.push(tensorType(name, options.length));
    outputPorts.push({ name, kind: 'tensor', slot });
  }
  if (options.checkGrad) {
    if (!ir.inputs.includes('grad')) throw new Error(`cannot check gradients of ${ir.key}: it reads none`);
    b.op('ReduceSum', [b.op('Mul', ['grad', b.scalar(0)])], CHECK_OUTPUT, { keepdims: { int: 0 } });
    outputs.push({ name: CHECK_OUTPUT, type: 'float32', shape: [] });
    outputPorts.push({ name: CHECK_OUTPUT, kind: 'check', slot: 'grad' });
  }

  return {
    graph: {
      name: ir.key.replace(/[^A-Za-z0-9_]/g, '_'),
      nodes: b.nodes,
      inputs,
      outputs,
      initializers: b.initializers,
    },
    inputs: inputPorts,
    outputs: outputPorts,
  };
}
