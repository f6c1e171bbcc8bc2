import type { KernelPlan, ScalarUse } from '@schedulefree/core';
import type { Dim, GraphSpec, Initializer, NodeSpec, ValueInfo } from './onnx-model.js';

/**
 * Lowers the core's kernel plan (a traced elementwise graph under one lerp pattern, with its scalar
 * arguments) to an ONNX graph: every tensor slot is a 1-D float32 input of one length, every scalar
 * argument of the plan a 0-d float32 input, so one session runs every step of a program that keeps
 * its lerp pattern, whatever the scalar values are.
 */

/** How to lower one plan. */
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
   * The plan is a reduction (ScheduleFree+'s Σ|g| and Σ g·(z − x)): each of its terms is summed over
   * the whole buffer (`ReduceSum`) into a 0-d output `<term>_sum`.
   */
  readonly reduce?: boolean;
}

/** What an input or output of a lowered graph is. */
export interface PortSpec {
  /** Name in the ONNX graph. */
  readonly name: string;
  /**
   * `tensor`: a slot buffer; `scalar`: one of the plan's scalar arguments ({@link PortSpec.use});
   * `grad-part`: one parameter's gradient; `check`: see {@link LowerOptions.checkGrad}.
   */
  readonly kind: 'tensor' | 'scalar' | 'grad-part' | 'check' | 'sum';
  /** The slot (tensors, outputs) or the program scalar it derives from (scalars). */
  readonly slot: string;
  /** Scalars: how the value derives from the program scalar (index into the plan's `uses`). */
  readonly use?: number;
}

/** An ONNX graph with the meaning of its inputs and outputs. */
export interface LoweredGraph {
  readonly graph: GraphSpec;
  readonly inputs: readonly PortSpec[];
  readonly outputs: readonly PortSpec[];
}

/** Name of the graph output carrying a slot's new value. */
export const outputName = (slot: string): string => `${slot}_next`;
/** Name of the 0-d output summing a reduction's term (see {@link LowerOptions.reduce}). */
export const sumName = (term: string): string => `${term}_sum`;
/** Name of the output of {@link LowerOptions.checkGrad}. */
export const CHECK_OUTPUT = 'gradCheck';

/** Name of the graph input carrying a scalar argument: `lr`, `inv_bc2` (1 / bc2), `one_minus_c` (1 − c). */
export const scalarInputName = (use: ScalarUse): string =>
  use.kind === 'value' ? use.name : use.kind === 'reciprocal' ? `inv_${use.name}` : `one_minus_${use.name}`;

const BINARY_OPS = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' } as const;

/** Accumulates ONNX nodes and constants with fresh value names. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: Initializer[] = [];
  private counter = 0;

  constructor(private readonly reserved: Set<string>) {}

  private fresh(hint: string): string {
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

  /** A 0-d float32 constant. */
  constant(value: number): string {
    const name = this.fresh('const');
    this.initializers.push({ name, type: 'float32', dims: [], values: [value] });
    return name;
  }
}

/**
 * Lowers a kernel plan, one ONNX operator per IR operation (one float32 rounding each). What the
 * plan decided is taken as is: a division by a scalar is a multiplication by its reciprocal, and
 * each lerp `lerp(a, b, w)` is the branch of the plan's pattern, `a + w·(b − a)` (small) or
 * `b − (b − a)·(1 − w)` (large), with `w` or `1 − w` a scalar input. Only live nodes are lowered,
 * only the inputs they read are graph inputs, and only the slots that change are outputs.
 */
export function lowerPlan(plan: KernelPlan, options: LowerOptions): LoweredGraph {
  const { graph: ir, live, operand, small, uses } = plan;
  const scalarNames = uses.map(scalarInputName);
  const outputSlots = plan.stores;
  const names = [
    ...plan.loads,
    ...scalarNames,
    ...(options.reduce ? outputSlots.map(sumName) : outputSlots.map(outputName)),
    CHECK_OUTPUT,
  ];
  if (new Set(names).size !== names.length) {
    throw new Error(`cannot lower ${ir.key}: slot, scalar and output names must all differ`);
  }
  const b = new GraphBuilder(new Set(names));
  const parts = options.gradParts && options.gradParts.length > 1 ? options.gradParts : null;
  const tensorType = (name: string, length: Dim): ValueInfo => ({ name, type: 'float32', shape: [length] });

  const inputs: ValueInfo[] = [];
  const inputPorts: PortSpec[] = [];
  for (const slot of plan.loads) {
    if (slot === 'grad' && parts) {
      const partNames = parts.map((size, i) => {
        const name = `grad.${i}`;
        inputs.push(tensorType(name, size));
        inputPorts.push({ name, kind: 'grad-part', slot: 'grad' });
        return name;
      });
      b.op('Concat', partNames, 'grad', { axis: { int: 0 } });
    } else {
      inputs.push(tensorType(slot, options.length));
      inputPorts.push({ name: slot, kind: 'tensor', slot });
    }
  }
  uses.forEach((use, i) => {
    inputs.push({ name: scalarNames[i], type: 'float32', shape: [] });
    inputPorts.push({ name: scalarNames[i], kind: 'scalar', slot: use.name, use: i });
  });

  // Nodes computing an output are named after their slot's output.
  const finalName = new Map<number, string>();
  for (const slot of options.reduce ? [] : outputSlots) {
    const id = ir.outputs[slot];
    if (ir.nodes[id].op !== 'input' && !finalName.has(id)) finalName.set(id, outputName(slot));
  }
  const value: string[] = [];
  for (const node of ir.nodes) {
    if (!live.has(node.id) || node.kind !== 'tensor') continue;
    const out = finalName.get(node.id);
    const arg = (k: number) => value[(node as { args: readonly number[] }).args[k]];
    const scalar = () => scalarNames[operand.get(node.id)!];
    switch (node.op) {
      case 'input':
        value[node.id] = node.name;
        break;
      case 'sqrt':
        value[node.id] = b.op('Sqrt', [arg(0)], out);
        break;
      case 'abs':
        value[node.id] = b.op('Abs', [arg(0)], out);
        break;
      case 'lerp': {
        const diff = b.op('Sub', [arg(1), arg(0)]);
        const scaled = b.op('Mul', [diff, scalar()]);
        value[node.id] = small.has(node.id)
          ? b.op('Add', [arg(0), scaled], out)
          : b.op('Sub', [arg(1), scaled], out);
        break;
      }
      default:
        // A scalar divisor arrives as its reciprocal.
        value[node.id] = operand.has(node.id)
          ? b.op(node.op === 'div' ? 'Mul' : BINARY_OPS[node.op], [arg(0), scalar()], out)
          : b.op(BINARY_OPS[node.op], [arg(0), arg(1)], out);
    }
  }

  const outputs: ValueInfo[] = [];
  const outputPorts: PortSpec[] = [];
  if (options.reduce) {
    for (const term of Object.keys(ir.outputs)) {
      const name = sumName(term);
      b.op('ReduceSum', [value[ir.outputs[term]]], name, { keepdims: { int: 0 } });
      outputs.push({ name, type: 'float32', shape: [] });
      outputPorts.push({ name, kind: 'sum', slot: term });
    }
    return {
      graph: {
        name: `${ir.key}#${plan.pattern}`.replace(/[^A-Za-z0-9_]/g, '_'),
        nodes: b.nodes,
        inputs,
        outputs,
        initializers: b.initializers,
      },
      inputs: inputPorts,
      outputs: outputPorts,
    };
  }
  for (const slot of outputSlots) {
    const name = outputName(slot);
    // An input passed through to another slot, or a node that is a second slot's value, is copied.
    if (value[ir.outputs[slot]] !== name) b.op('Identity', [value[ir.outputs[slot]]], name);
    outputs.push(tensorType(name, options.length));
    outputPorts.push({ name, kind: 'tensor', slot });
  }
  if (options.checkGrad) {
    if (!plan.loads.includes('grad')) throw new Error(`cannot check gradients of ${ir.key}: it reads none`);
    b.op('ReduceSum', [b.op('Mul', ['grad', b.constant(0)])], CHECK_OUTPUT, { keepdims: { int: 0 } });
    outputs.push({ name: CHECK_OUTPUT, type: 'float32', shape: [] });
    outputPorts.push({ name: CHECK_OUTPUT, kind: 'check', slot: 'grad' });
  }

  return {
    graph: {
      name: `${ir.key}#${plan.pattern}`.replace(/[^A-Za-z0-9_]/g, '_'),
      nodes: b.nodes,
      inputs,
      outputs,
      initializers: b.initializers,
    },
    inputs: inputPorts,
    outputs: outputPorts,
  };
}
