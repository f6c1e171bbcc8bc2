import { type Graph, type IRNode, nodeArgs } from '@schedulefree/core';

/**
 * Lowering of the core's traced IR to gpu.js kernel source (the sibling of the core's
 * `compile-js.ts`, which lowers the same graph to a JavaScript loop).
 *
 * One graph becomes one or more kernels that each evaluate the whole graph per element and return
 * some of its outputs:
 * - `map`: a kernel map. The root returns one output; each further output goes through an identity
 *   sub-kernel (`createKernelMap`), so all of them are written in one pass (WebGL modes, cpu).
 * - `single`: one kernel per output (webgpu, which has neither kernel maps nor `Array(k)` pipeline
 *   inputs; webasm, where kernel maps silently fall back to cpu and an `Array(k)` result comes back
 *   as one small array per element, ten times slower than k separate kernels at 1M elements).
 * Per-step values are always `Float` kernel arguments, never compiled-in constants, so a kernel is
 * built once and reused by every step.
 */

/** How the outputs of a graph are returned by its kernels. */
export type OutputStyle = 'map' | 'single';

/** What a scalar kernel argument is, derived on the host from the program's named scalars. */
export type ScalarDerivation =
  /** The scalar itself. */
  | 'value'
  /** `1 / s`: division by a per-step scalar becomes a multiplication. */
  | 'reciprocal'
  /** A lerp weight `w`, used when `|w| < 0.5`. */
  | 'lerpWeight'
  /** `1 − w`, used by the other lerp branch. */
  | 'lerpComplement'
  /** 1 when `|w| < 0.5` (branch `a + w·(b − a)`), else 0 (branch `b − (b − a)·(1 − w)`). */
  | 'lerpSmall';

/** One argument of a generated kernel, in call order: tensors first, then scalars. */
export type KernelArgument =
  | { readonly kind: 'tensor'; readonly name: string; readonly slot: string }
  | {
      readonly kind: 'scalar';
      readonly name: string;
      readonly scalar: string;
      readonly derive: ScalarDerivation;
    };

/** One generated kernel. */
export interface LoweredKernel {
  /** `function (...) { ... }`: the kernel (or the kernel map's root). */
  readonly source: string;
  /** Kernel maps only: property → identity sub-kernel source. */
  readonly subKernels: Readonly<Record<string, string>>;
  readonly returnType: 'Float';
  readonly args: readonly KernelArgument[];
  /**
   * The values this kernel returns, in order (the root result, then the sub-kernel properties). Each value feeds one or more output slots (two slots can share a
   * node, e.g. `param` and `y` of the reference classes).
   */
  readonly results: ReadonlyArray<{ readonly key: string; readonly slots: readonly string[] }>;
}

export interface LowerOptions {
  readonly style: OutputStyle;
  /** Number of output dimensions (1, 2 or 3): how elements are indexed (`this.thread.x`, …). */
  readonly rank: 1 | 2 | 3;
  /** Most results one kernel map may return (its draw buffers); at most 4. */
  readonly maxResults?: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Lowers a traced graph to gpu.js kernels. Throws if a name is not a plain identifier. */
export function lowerGraph(graph: Graph, options: LowerOptions): LoweredKernel[] {
  for (const name of [...graph.inputs, ...graph.scalars, ...Object.keys(graph.outputs)]) {
    if (!IDENT.test(name)) throw new Error(`cannot lower graph ${graph.key}: "${name}" is not an identifier`);
  }
  const limit = options.style === 'single' ? 1 : Math.min(options.maxResults ?? 4, 4);
  if (limit < 1) throw new Error('lowerGraph: maxResults must be at least 1');
  // Distinct result nodes, in the order of the program's outputs.
  const results: Array<{ id: number; slots: string[] }> = [];
  for (const [slot, id] of Object.entries(graph.outputs)) {
    const existing = results.find((r) => r.id === id);
    if (existing) existing.slots.push(slot);
    else results.push({ id, slots: [slot] });
  }
  const kernels: LoweredKernel[] = [];
  for (let i = 0; i < results.length; i += limit) {
    kernels.push(lowerKernel(graph, results.slice(i, i + limit), options));
  }
  return kernels;
}

function lowerKernel(
  graph: Graph,
  results: ReadonlyArray<{ id: number; slots: string[] }>,
  options: LowerOptions,
): LoweredKernel {
  const nodes = graph.nodes;
  // Only the nodes these results depend on.
  const live = new Set<number>();
  const visit = (id: number) => {
    if (live.has(id)) return;
    live.add(id);
    for (const a of nodeArgs(nodes[id])) visit(a);
  };
  for (const r of results) visit(r.id);

  const tensorArgs: KernelArgument[] = [];
  const scalarArgs: KernelArgument[] = [];
  const scalarArg = (scalar: string, derive: ScalarDerivation): string => {
    const name = `${SCALAR_PREFIX[derive]}${scalar}`;
    if (!scalarArgs.some((a) => a.name === name)) scalarArgs.push({ kind: 'scalar', name, scalar, derive });
    return name;
  };
  const index = ELEMENT_INDEX[options.rank];
  const lines: string[] = [];
  const ref = (id: number): string => {
    const n = nodes[id];
    return n.op === 'scalar' ? scalarArg(n.name, 'value') : `v${id}`;
  };
  for (const node of nodes) {
    if (!live.has(node.id) || node.op === 'scalar') continue;
    if (node.op === 'input') {
      const name = `t_${node.name}`;
      tensorArgs.push({ kind: 'tensor', name, slot: node.name });
      lines.push(`  const v${node.id} = ${name}${index};`);
      continue;
    }
    lines.push(`  const v${node.id} = ${expression(nodes, node, ref, scalarArg)};`);
  }

  const style = options.style;
  const keys = results.map((_, j) => (j > 0 ? `o${j}` : 'result'));
  const subKernels: Record<string, string> = {};
  if (style === 'map') {
    results.slice(1).forEach((r, j) => {
      const fn = `sfOut${j + 1}`;
      subKernels[keys[j + 1]] = `function ${fn}(value) {\n  return value;\n}`;
      lines.push(`  ${fn}(v${r.id});`);
    });
  }
  lines.push(`  return v${results[0].id};`);
  const args = [...tensorArgs, ...scalarArgs];
  const source = `function (${args.map((a) => a.name).join(', ')}) {\n${lines.join('\n')}\n}`;
  return {
    source,
    subKernels,
    returnType: 'Float',
    args,
    results: results.map((r, j) => ({ key: keys[j], slots: r.slots })),
  };
}

const SCALAR_PREFIX: Record<ScalarDerivation, string> = {
  value: 's_',
  reciprocal: 'inv_',
  lerpWeight: 'lw_',
  lerpComplement: 'lc_',
  lerpSmall: 'ls_',
};

const ELEMENT_INDEX = {
  1: '[this.thread.x]',
  2: '[this.thread.y][this.thread.x]',
  3: '[this.thread.z][this.thread.y][this.thread.x]',
} as const;

function expression(
  nodes: readonly IRNode[],
  node: IRNode,
  ref: (id: number) => string,
  scalarArg: (scalar: string, derive: ScalarDerivation) => string,
): string {
  const scalarName = (id: number) => {
    const n = nodes[id];
    if (n.op !== 'scalar') throw new Error(`node ${id} must be a scalar input`);
    return n.name;
  };
  switch (node.op) {
    case 'sqrt':
      return `Math.sqrt(${ref(node.args[0])})`;
    case 'lerp': {
      // PyTorch's two branches; which one applies is known on the host for the whole tensor.
      const [a, b] = [ref(node.args[0]), ref(node.args[1])];
      const w = scalarName(node.args[2]);
      const small = scalarArg(w, 'lerpSmall');
      const weight = scalarArg(w, 'lerpWeight');
      const complement = scalarArg(w, 'lerpComplement');
      return `${small} > 0.5 ? ${a} + ${weight} * (${b} - ${a}) : ${b} - (${b} - ${a}) * ${complement}`;
    }
    case 'add':
      return `${ref(node.args[0])} + ${ref(node.args[1])}`;
    case 'sub':
      return `${ref(node.args[0])} - ${ref(node.args[1])}`;
    case 'mul':
      return `${ref(node.args[0])} * ${ref(node.args[1])}`;
    case 'div': {
      const divisor = nodes[node.args[1]];
      return divisor.op === 'scalar'
        ? `${ref(node.args[0])} * ${scalarArg(divisor.name, 'reciprocal')}`
        : `${ref(node.args[0])} / ${ref(node.args[1])}`;
    }
    default:
      throw new Error(`cannot lower node ${node.id} (${node.op})`);
  }
}

/** The value of a scalar kernel argument for one run (float64 on the host, float32 once passed). */
export function scalarArgumentValue(
  arg: Extract<KernelArgument, { kind: 'scalar' }>,
  scalars: Readonly<Record<string, number>>,
): number {
  const s = scalars[arg.scalar];
  if (typeof s !== 'number') throw new Error(`missing scalar "${arg.scalar}"`);
  switch (arg.derive) {
    case 'value':
      return s;
    case 'reciprocal':
      return 1 / s;
    case 'lerpWeight':
      return s;
    case 'lerpComplement':
      return 1 - s;
    case 'lerpSmall':
      return Math.abs(s) < 0.5 ? 1 : 0;
  }
}
