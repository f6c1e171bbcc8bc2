import { type Graph, type IRNode, nodeArgs } from '../ir/graph.js';

/**
 * The scalar plan every lowering reads: which per-step values a kernel takes, and how each is derived
 * on the host from the program's named scalars. Deciding this once keeps every target (JavaScript
 * loop, WebAssembly, GLSL, WGSL, gpu.js, ONNX) rounding the same way:
 *
 * - a division by a per-step scalar becomes a multiplication by its reciprocal, computed on the host
 *   in float64 (one division per run instead of one per element);
 * - PyTorch's `lerp(a, b, w)` has two branches, `a + w·(b − a)` when |w| < 0.5 and
 *   `b − (b − a)·(1 − w)` otherwise; the branch is decided on the host, in float64, for the whole run
 *   (the {@link lerpPattern}), and the kernel receives `w` or `1 − w` accordingly.
 *
 * Targets compile one kernel per (graph, pattern). A pattern changes at most a few times in a run
 * (the averaging weight c passes 0.5 once), so ordinary steps all use one kernel.
 */

/** How a kernel's scalar operand is derived from a host scalar. */
export type ScalarDerivation = 'value' | 'reciprocal' | 'oneMinus';

/** One per-step scalar a kernel takes. */
export interface ScalarUse {
  readonly kind: ScalarDerivation;
  /** The program scalar it is derived from. */
  readonly name: string;
}

/** A graph prepared for lowering under one lerp pattern. */
export interface KernelPlan {
  readonly graph: Graph;
  /** One character per lerp node, in node order: `s` for |w| < 0.5, `l` otherwise. */
  readonly pattern: string;
  /** Nodes some output depends on. */
  readonly live: ReadonlySet<number>;
  /** The kernel's scalar arguments, in order, each distinct. */
  readonly uses: readonly ScalarUse[];
  /** Node id → index in {@link uses} of its scalar operand (lerp weight, or right-hand scalar). */
  readonly operand: ReadonlyMap<number, number>;
  /** Lerp nodes taking the `a + w·(b − a)` branch. */
  readonly small: ReadonlySet<number>;
  /** Tensor inputs whose values are read, in the graph's input order. */
  readonly loads: readonly string[];
  /** Output slots that change (an output that is its own unchanged input is left out). */
  readonly stores: readonly string[];
}

/** The name of the scalar input node `id`. */
export function scalarInputName(graph: Graph, id: number): string {
  const node = graph.nodes[id];
  if (node.op !== 'scalar') throw new Error(`graph ${graph.key}: node ${id} is not a scalar input`);
  return node.name;
}

/** The lerp branches of a graph for this run's scalars, decided on the float64 host values. */
export function lerpPattern(graph: Graph, scalars: Readonly<Record<string, number>>): string {
  let pattern = '';
  for (const node of graph.nodes) {
    if (node.op === 'lerp')
      pattern += isSmallLerpWeight(scalars[scalarInputName(graph, node.args[2])]) ? 's' : 'l';
  }
  return pattern;
}

/** The one place the lerp branch is decided: PyTorch's `|w| < 0.5`, on the float64 value. */
export const isSmallLerpWeight = (w: number): boolean => Math.abs(w) < 0.5;

/** Nodes that some output depends on (inputs and scalars included only when used). */
export function liveNodes(
  graph: Graph,
  outputs: readonly number[] = Object.values(graph.outputs),
): Set<number> {
  const live = new Set<number>(outputs);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    if (live.has(i)) for (const a of nodeArgs(graph.nodes[i])) live.add(a);
  }
  return live;
}

const isBinary = (node: IRNode): node is Extract<IRNode, { op: 'add' | 'sub' | 'mul' | 'div' }> =>
  node.op === 'add' || node.op === 'sub' || node.op === 'mul' || node.op === 'div';

const plans = new Map<string, KernelPlan>();

/** Plans a graph for one lerp pattern (cached per graph key and pattern). */
export function planKernel(graph: Graph, pattern: string): KernelPlan {
  const key = `${graph.key}#${pattern}`;
  const cached = plans.get(key);
  if (cached && cached.graph === graph) return cached;
  const lerps = graph.nodes.filter((n) => n.op === 'lerp');
  if (!/^[sl]*$/.test(pattern) || pattern.length !== lerps.length) {
    throw new Error(`lerp pattern "${pattern}" does not fit graph ${graph.key}`);
  }
  const live = liveNodes(graph);
  const uses: ScalarUse[] = [];
  const index = new Map<string, number>();
  const operand = new Map<number, number>();
  const small = new Set<number>();
  const use = (id: number, kind: ScalarDerivation, name: string) => {
    const k = `${kind}:${name}`;
    if (!index.has(k)) {
      index.set(k, uses.length);
      uses.push({ kind, name });
    }
    operand.set(id, index.get(k)!);
  };
  let lerp = 0;
  for (const node of graph.nodes) {
    if (node.op === 'lerp') {
      const branch = pattern[lerp++];
      if (!live.has(node.id)) continue;
      if (branch === 's') small.add(node.id);
      use(node.id, branch === 's' ? 'value' : 'oneMinus', scalarInputName(graph, node.args[2]));
    } else if (live.has(node.id) && isBinary(node) && graph.nodes[node.args[1]].kind === 'scalar') {
      use(node.id, node.op === 'div' ? 'reciprocal' : 'value', scalarInputName(graph, node.args[1]));
    }
  }
  const loads = graph.nodes.flatMap((n) => (n.op === 'input' && live.has(n.id) ? [n.name] : []));
  const stores = Object.entries(graph.outputs)
    .filter(([name, id]) => {
      const node = graph.nodes[id];
      return !(node.op === 'input' && node.name === name);
    })
    .map(([name]) => name);
  const plan: KernelPlan = { graph, pattern, live, uses, operand, small, loads, stores };
  plans.set(key, plan);
  return plan;
}

/** The plan of a graph for this run's scalars. */
export function planFor(graph: Graph, scalars: Readonly<Record<string, number>>): KernelPlan {
  return planKernel(graph, lerpPattern(graph, scalars));
}

/** The value of one scalar use for this run (float64; a float32 target rounds it once). */
export function scalarValue(use: ScalarUse, scalars: Readonly<Record<string, number>>): number {
  const s = scalars[use.name];
  if (typeof s !== 'number') throw new Error(`missing scalar "${use.name}"`);
  return use.kind === 'value' ? s : use.kind === 'reciprocal' ? 1 / s : 1 - s;
}

/** Every scalar argument of a plan for this run, in {@link KernelPlan.uses} order. */
export function scalarValues(plan: KernelPlan, scalars: Readonly<Record<string, number>>): number[] {
  return plan.uses.map((u) => scalarValue(u, scalars));
}
