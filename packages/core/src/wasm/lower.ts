import type { Graph, IRNode } from '../ir/graph.js';
import { CodeWriter, encodeModule, I32, Op, Simd, V128, type ValType } from './encoder.js';

/**
 * Lowering of a traced {@link Graph} to a WebAssembly SIMD kernel over float32 data.
 *
 * Memory starts with a header the host fills before each call: a table of per-step scalars
 * (float32) and a table of pointers, one per tensor input, to where that input's current chunk
 * lives (a scratch region, or the tensor itself when it resides in wasm memory). One call processes
 * `len` bytes (a multiple of 16) of every input, four elements per iteration, and stores each output
 * through the pointer of the slot it replaces. Each iteration loads all of its inputs before it
 * stores, so updating in place is safe exactly as in the JavaScript loop.
 *
 * Arithmetic is float32 with one rounding per operation (as in a float32 tensor library). Per-step
 * scalars are prepared on the host in float64: a divisor becomes its reciprocal and a lerp weight w
 * becomes w or 1 − w (the branch is fixed per kernel), rounded once to float32.
 */

/** Byte offset of the scalar table. */
export const SCALAR_BASE = 0;
/** Capacity of the scalar table, in float32 entries. */
export const MAX_SCALARS = 128;
/** Byte offset of the pointer table (one i32 per tensor input of the graph, in input order). */
export const POINTER_BASE = SCALAR_BASE + 4 * MAX_SCALARS;
/** Capacity of the pointer table. */
export const MAX_POINTERS = 64;
/** Bytes reserved for the header; data may start here. */
export const HEADER_BYTES = 1024;

/** How a host scalar enters the kernel's scalar table. */
export type ScalarUse =
  | { readonly kind: 'value'; readonly name: string }
  | { readonly kind: 'reciprocal'; readonly name: string }
  | { readonly kind: 'oneMinus'; readonly name: string };

/** A lowered graph: the module bytes plus what the host must do around each call. */
export interface LoweredKernel {
  readonly bytes: Uint8Array;
  /** Entry j of the scalar table, in order. */
  readonly scalars: readonly ScalarUse[];
  /** Inputs whose values are read. */
  readonly loads: readonly string[];
  /** Outputs that change; an output that is its own unchanged input is left out. */
  readonly stores: readonly string[];
}

/** Export name of the kernel function `(len: i32) → ()`. */
export const KERNEL_EXPORT = 'step';

/** The lerp branches of a graph for given scalars: one character per lerp node, `s` for |w| < 0.5. */
export function lerpPattern(graph: Graph, scalars: Readonly<Record<string, number>>): string {
  let pattern = '';
  for (const node of graph.nodes) {
    if (node.op === 'lerp') pattern += Math.abs(scalars[scalarName(graph, node.args[2])]) < 0.5 ? 's' : 'l';
  }
  return pattern;
}

function scalarName(graph: Graph, id: number): string {
  const node = graph.nodes[id];
  if (node.op !== 'scalar') throw new Error(`graph ${graph.key}: node ${id} is not a scalar input`);
  return node.name;
}

/** Nodes some output depends on. */
function liveNodes(graph: Graph): Set<number> {
  const live = new Set<number>(Object.values(graph.outputs));
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (live.has(i) && 'args' in node) for (const a of node.args) live.add(a);
  }
  return live;
}

const BINARY = { add: Simd.f32x4Add, sub: Simd.f32x4Sub, mul: Simd.f32x4Mul, div: Simd.f32x4Div } as const;

function isBinary(node: IRNode): node is Extract<IRNode, { op: keyof typeof BINARY }> {
  return node.op in BINARY;
}

/** The scalar table a graph needs for one lerp pattern, and which entry each node reads. */
function planScalars(graph: Graph, live: Set<number>, pattern: string) {
  const scalars: ScalarUse[] = [];
  const index = new Map<string, number>();
  const operandOf = new Map<number, number>(); // node id → entry of its scalar operand
  const small = new Set<number>(); // lerp nodes taking the a + w·(b − a) branch
  const use = (id: number, entry: ScalarUse) => {
    const key = `${entry.kind}:${entry.name}`;
    if (!index.has(key)) {
      index.set(key, scalars.length);
      scalars.push(entry);
    }
    operandOf.set(id, index.get(key)!);
  };
  const lerps = graph.nodes.filter((n) => n.op === 'lerp');
  if (!/^[sl]*$/.test(pattern) || pattern.length !== lerps.length) {
    throw new Error(`lerp pattern "${pattern}" does not fit graph ${graph.key}`);
  }
  for (const node of graph.nodes) {
    if (!live.has(node.id)) continue;
    if (node.op === 'lerp') {
      const branch = pattern[lerps.indexOf(node)];
      if (branch === 's') small.add(node.id);
      use(node.id, { kind: branch === 's' ? 'value' : 'oneMinus', name: scalarName(graph, node.args[2]) });
    } else if (isBinary(node) && graph.nodes[node.args[1]].kind === 'scalar') {
      const name = scalarName(graph, node.args[1]);
      use(node.id, { kind: node.op === 'div' ? 'reciprocal' : 'value', name });
    }
  }
  return { scalars, operandOf, small };
}

/**
 * Lowers a graph for one lerp branch pattern (see {@link lerpPattern}). Throws when the graph has
 * more scalar entries or inputs than the header holds.
 */
export function lowerToWasm(graph: Graph, pattern: string): LoweredKernel {
  const live = liveNodes(graph);
  const { scalars, operandOf, small } = planScalars(graph, live, pattern);
  if (scalars.length > MAX_SCALARS || graph.inputs.length > MAX_POINTERS) {
    throw new Error(`graph ${graph.key} has more scalars or inputs than the kernel header holds`);
  }

  // Locals: 0 the length parameter, 1 the byte offset, then one i32 pointer per input, one v128
  // per scalar entry and one v128 per live tensor node.
  const [LEN, AT] = [0, 1];
  const pointer = (k: number) => 2 + k;
  const scalarBase = 2 + graph.inputs.length;
  const tensorLocals = new Map<number, number>();
  for (const node of graph.nodes) {
    if (live.has(node.id) && node.kind === 'tensor') {
      tensorLocals.set(node.id, scalarBase + scalars.length + tensorLocals.size);
    }
  }
  const local = (id: number) => tensorLocals.get(id)!;
  const scalarLocal = (id: number) => scalarBase + operandOf.get(id)!;
  const inputIndex = new Map(graph.inputs.map((name, k) => [name, k]));

  const loads: string[] = [];
  for (const node of graph.nodes) if (node.op === 'input' && live.has(node.id)) loads.push(node.name);
  const stores = Object.entries(graph.outputs)
    .filter(([name, id]) => {
      const node = graph.nodes[id];
      return !(node.op === 'input' && node.name === name);
    })
    .map(([name]) => name);

  const body = new CodeWriter();
  const address = (name: string) =>
    body
      .localGet(pointer(inputIndex.get(name)!))
      .localGet(AT)
      .op(Op.i32Add);
  // Read the pointer and scalar tables once per call.
  for (const name of new Set([...loads, ...stores])) {
    const k = inputIndex.get(name)!;
    body
      .i32Const(0)
      .op(Op.i32Load)
      .memarg(2, POINTER_BASE + 4 * k)
      .localSet(pointer(k));
  }
  scalars.forEach((_, j) => {
    body
      .i32Const(0)
      .v128Load32Splat(SCALAR_BASE + 4 * j)
      .localSet(scalarBase + j);
  });
  body.block().localGet(LEN).op(Op.i32Eqz).brIf(0).loop();
  for (const node of graph.nodes) {
    if (!live.has(node.id) || node.kind !== 'tensor') continue;
    switch (node.op) {
      case 'input':
        address(node.name).v128Load(0);
        break;
      case 'sqrt':
        body.localGet(local(node.args[0])).simd(Simd.f32x4Sqrt);
        break;
      case 'lerp': {
        const [a, b, w] = [local(node.args[0]), local(node.args[1]), scalarLocal(node.id)];
        if (small.has(node.id)) {
          // a + w·(b − a)
          body.localGet(a).localGet(w).localGet(b).localGet(a).simd(Simd.f32x4Sub);
          body.simd(Simd.f32x4Mul).simd(Simd.f32x4Add);
        } else {
          // b − (b − a)·(1 − w)
          body.localGet(b).localGet(b).localGet(a).simd(Simd.f32x4Sub);
          body.localGet(w).simd(Simd.f32x4Mul).simd(Simd.f32x4Sub);
        }
        break;
      }
      default:
        body.localGet(local(node.args[0]));
        if (operandOf.has(node.id)) {
          // A scalar divisor arrives as its reciprocal.
          body.localGet(scalarLocal(node.id)).simd(node.op === 'div' ? Simd.f32x4Mul : BINARY[node.op]);
        } else {
          body.localGet(local(node.args[1])).simd(BINARY[node.op]);
        }
    }
    body.localSet(local(node.id));
  }
  for (const name of stores) address(name).localGet(local(graph.outputs[name])).v128Store(0);
  body.localGet(AT).i32Const(16).op(Op.i32Add).op(Op.localTee).u32(AT);
  body.localGet(LEN).op(Op.i32LtU).brIf(0).end().end();

  const locals: ValType[] = [
    I32,
    ...Array<ValType>(graph.inputs.length).fill(I32),
    ...Array<ValType>(scalars.length + tensorLocals.size).fill(V128),
  ];
  const bytes = encodeModule([{ name: KERNEL_EXPORT, params: [I32], results: [], locals, body }]);
  return { bytes, scalars, loads, stores };
}

/** Fills the scalar table for one run (float64 on the host, rounded once when stored as float32). */
export function writeScalarTable(
  table: Float32Array,
  uses: readonly ScalarUse[],
  scalars: Readonly<Record<string, number>>,
): void {
  for (let j = 0; j < uses.length; j++) {
    const use = uses[j];
    const value = scalars[use.name];
    table[SCALAR_BASE / 4 + j] =
      use.kind === 'value' ? value : use.kind === 'reciprocal' ? 1 / value : 1 - value;
  }
}

/** Export name of the finiteness check `(ptr: i32, len: i32) → i32`. */
export const FINITE_EXPORT = 'finite';

const EXPONENT_MASK = 0x7f800000;

/** Bytes the finiteness check reads per iteration: its `len` must be a multiple. */
export const FINITE_STEP_BYTES = 64;

/**
 * A module whose `finite(ptr, len)` returns 1 when the `len` bytes (a multiple of
 * {@link FINITE_STEP_BYTES}) at `ptr` hold no NaN or ±Infinity, else 0: a float32 is non-finite
 * exactly when its exponent bits are all ones, so the running unsigned maximum of the masked
 * exponents tells. Four vectors per iteration, reduced pairwise, keep the loop short.
 */
export function lowerFiniteCheck(): Uint8Array {
  const [PTR, LEN, AT, ACC, MASK, ADDR] = [0, 1, 2, 3, 4, 5];
  const body = new CodeWriter().i32x4Const(EXPONENT_MASK).localSet(MASK);
  const masked = (k: number) =>
    body
      .localGet(ADDR)
      .v128Load(16 * k)
      .localGet(MASK)
      .simd(Simd.v128And);
  body.block().localGet(LEN).op(Op.i32Eqz).brIf(0).loop();
  body.localGet(PTR).localGet(AT).op(Op.i32Add).localSet(ADDR);
  body.localGet(ACC);
  masked(0);
  masked(1);
  body.simd(Simd.i32x4MaxU);
  masked(2);
  masked(3);
  body.simd(Simd.i32x4MaxU).simd(Simd.i32x4MaxU).simd(Simd.i32x4MaxU).localSet(ACC);
  body.localGet(AT).i32Const(FINITE_STEP_BYTES).op(Op.i32Add).op(Op.localTee).u32(AT);
  body.localGet(LEN).op(Op.i32LtU).brIf(0).end().end();
  body.localGet(ACC).localGet(MASK).simd(Simd.i32x4Eq).simd(Simd.v128AnyTrue).op(Op.i32Eqz);
  return encodeModule([
    {
      name: FINITE_EXPORT,
      params: [I32, I32],
      results: [I32],
      locals: [I32, V128, V128, I32],
      body,
    },
  ]);
}

/** The smallest module using a SIMD instruction: it validates exactly when the engine has SIMD. */
export function simdProbe(): Uint8Array {
  const body = new CodeWriter().i32x4Const(0).op(Op.drop);
  return encodeModule([{ name: 'probe', params: [], results: [], locals: [], body }]);
}
