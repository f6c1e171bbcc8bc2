import { type Graph, type IRNode, nodeArgs } from '@schedulefree/core';
import { Code, encodeModule, F32, I32, op, simd, V128, type ValueType } from './wasm-encoder.js';

/**
 * Lowering of a traced program to a WebAssembly SIMD kernel that runs inside the memory of
 * tfjs's wasm backend: it reads its inputs where tfjs keeps them and writes outputs tfjs allocated,
 * four float32 lanes per instruction, then a scalar tail. Every operation rounds to float32, as
 * tfjs's own kernels do.
 *
 * The kernel is `step(inputPtrs..., outputPtrs..., n, scalars...)`. Per-step scalars are prepared
 * on the host in float64: a divisor becomes its reciprocal, a lerp weight w stays w (|w| < 0.5) or
 * becomes 1 − w (the other branch), each rounded once to float32 by the call.
 */

/** How a host scalar becomes a kernel argument. */
export interface ScalarUse {
  readonly kind: 'value' | 'reciprocal' | 'oneMinus';
  readonly name: string;
}

/** A lowered program and what the host passes to it. */
export interface LoweredKernel {
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly scalars: readonly ScalarUse[];
}

/** Name of the step function in every kernel module. */
export const STEP = 'step';
/** Name of the finiteness check `finite(ptr, n) → 1 | 0`. */
export const FINITE = 'finite';

/** One character per lerp node: `s` when |w| < 0.5 (a + w(b − a)), `l` otherwise (b − (b − a)(1 − w)). */
export function lerpPattern(graph: Graph, scalars: Readonly<Record<string, number>>): string {
  let pattern = '';
  for (const node of graph.nodes) {
    if (node.op === 'lerp') {
      const w = graph.nodes[node.args[2]];
      if (w.op !== 'scalar') throw new Error(`graph ${graph.key}: a lerp weight must be a scalar input`);
      pattern += Math.abs(scalars[w.name]) < 0.5 ? 's' : 'l';
    }
  }
  return pattern;
}

/** The value passed for a scalar use. */
export function scalarValue(use: ScalarUse, scalars: Readonly<Record<string, number>>): number {
  const s = scalars[use.name];
  return use.kind === 'value' ? s : use.kind === 'reciprocal' ? 1 / s : 1 - s;
}

const BINARY = {
  add: [simd.f32x4Add, op.f32Add],
  sub: [simd.f32x4Sub, op.f32Sub],
  mul: [simd.f32x4Mul, op.f32Mul],
  div: [simd.f32x4Div, op.f32Div],
} as const;

function liveNodes(graph: Graph): Set<number> {
  const live = new Set<number>(Object.values(graph.outputs));
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    if (live.has(i)) for (const a of nodeArgs(graph.nodes[i])) live.add(a);
  }
  return live;
}

/** Lowers a graph for one lerp pattern (see {@link lerpPattern}). */
export function lowerGraph(graph: Graph, pattern: string): LoweredKernel {
  const live = liveNodes(graph);
  const outputs = Object.keys(graph.outputs);
  const inputs = graph.inputs;
  // Scalar arguments, one per distinct use.
  const uses: ScalarUse[] = [];
  const useIndex = new Map<string, number>();
  const useOf = (kind: ScalarUse['kind'], node: IRNode): number => {
    if (node.op !== 'scalar') throw new Error(`graph ${graph.key}: expected a scalar input`);
    const key = `${kind}:${node.name}`;
    let index = useIndex.get(key);
    if (index === undefined) {
      index = uses.length;
      uses.push({ kind, name: node.name });
      useIndex.set(key, index);
    }
    return index;
  };
  const lerpKind = new Map<number, 's' | 'l'>();
  let lerps = 0;
  for (const node of graph.nodes)
    if (node.op === 'lerp') lerpKind.set(node.id, pattern[lerps++] as 's' | 'l');
  // Which use each scalar operand of a live node takes.
  const operandUse = new Map<number, number>();
  for (const node of graph.nodes) {
    if (!live.has(node.id)) continue;
    if (node.op === 'lerp') {
      operandUse.set(
        node.id,
        useOf(lerpKind.get(node.id) === 's' ? 'value' : 'oneMinus', graph.nodes[node.args[2]]),
      );
    } else if (node.op in BINARY) {
      const right = graph.nodes[(node as { args: readonly number[] }).args[1]];
      if (right.kind === 'scalar')
        operandUse.set(node.id, useOf(node.op === 'div' ? 'reciprocal' : 'value', right));
    }
  }

  // Parameters: input pointers, output pointers, n, scalar arguments.
  const pIn = (k: number) => k;
  const pOut = (j: number) => inputs.length + j;
  const pN = inputs.length + outputs.length;
  const pScalar = (u: number) => pN + 1 + u;
  const params: ValueType[] = [
    ...inputs.map((): ValueType => I32),
    ...outputs.map((): ValueType => I32),
    I32,
    ...uses.map((): ValueType => F32),
  ];
  // Locals: i, end of the vector part, end, a splat per scalar use, a vector and a scalar per node.
  const locals: ValueType[] = [];
  const local = (type: ValueType) => params.length + locals.push(type) - 1;
  const i = local(I32);
  const endVec = local(I32);
  const endAll = local(I32);
  const splat = uses.map(() => local(V128));
  const vec = new Map<number, number>();
  const sca = new Map<number, number>();
  for (const node of graph.nodes) {
    if (live.has(node.id) && node.kind === 'tensor') {
      vec.set(node.id, local(V128));
      sca.set(node.id, local(F32));
    }
  }
  const inputIndex = new Map(inputs.map((name, k) => [name, k]));

  const code = new Code();
  code.get(pN).i32(-4).byte(op.i32And).i32(2).byte(op.i32Shl).set(endVec);
  code.get(pN).i32(2).byte(op.i32Shl).set(endAll);
  uses.forEach((_, u) => {
    code.get(pScalar(u)).simd(simd.f32x4Splat).set(splat[u]);
  });

  /** One pass: lanes = 4 (SIMD) or 1 (scalar tail). */
  const pass = (vector: boolean) => {
    const value = vector ? vec : sca;
    const scalarArg = (u: number) => (vector ? code.get(splat[u]) : code.get(pScalar(u)));
    const arith = (pair: readonly [number, number]) => (vector ? code.simd(pair[0]) : code.byte(pair[1]));
    code.byte(op.block, 0x40, op.loop, 0x40);
    code
      .get(i)
      .get(vector ? endVec : endAll)
      .byte(op.i32GeU, op.brIf)
      .u32(1);
    for (const node of graph.nodes) {
      if (!live.has(node.id) || node.kind !== 'tensor') continue;
      const target = value.get(node.id)!;
      switch (node.op) {
        case 'input':
          code
            .get(pIn(inputIndex.get(node.name)!))
            .get(i)
            .byte(op.i32Add);
          if (vector) code.simd(simd.v128Load).memarg(2);
          else code.byte(op.f32Load).memarg(2);
          break;
        case 'sqrt':
          code.get(value.get(node.args[0])!);
          if (vector) code.simd(simd.f32x4Sqrt);
          else code.byte(op.f32Sqrt);
          break;
        case 'abs':
          code.get(value.get(node.args[0])!);
          if (vector) code.simd(0xe0);
          else code.byte(0x8b);
          break;
        case 'lerp': {
          const [a, b] = [value.get(node.args[0])!, value.get(node.args[1])!];
          const w = operandUse.get(node.id)!;
          if (lerpKind.get(node.id) === 's') {
            code.get(a);
            scalarArg(w);
            code.get(b).get(a);
            arith(BINARY.sub);
            arith(BINARY.mul);
            arith(BINARY.add);
          } else {
            code.get(b).get(b).get(a);
            arith(BINARY.sub);
            scalarArg(w);
            arith(BINARY.mul);
            arith(BINARY.sub);
          }
          break;
        }
        default: {
          const [a, b] = node.args;
          code.get(value.get(a)!);
          const u = operandUse.get(node.id);
          if (u === undefined) code.get(value.get(b)!);
          else scalarArg(u);
          arith(node.op === 'div' && u !== undefined ? BINARY.mul : BINARY[node.op]);
        }
      }
      code.set(target);
    }
    outputs.forEach((name, j) => {
      code.get(pOut(j)).get(i).byte(op.i32Add).get(value.get(graph.outputs[name])!);
      if (vector) code.simd(simd.v128Store).memarg(2);
      else code.byte(op.f32Store).memarg(2);
    });
    code
      .get(i)
      .i32(vector ? 16 : 4)
      .byte(op.i32Add)
      .set(i);
    code.byte(op.br).u32(0).byte(op.end, op.end);
  };
  pass(true);
  pass(false);

  const bytes = encodeModule([{ name: STEP, params, results: [], locals, body: code }]);
  return { bytes, inputs, outputs, scalars: uses };
}

/**
 * `finite(ptr, n)`: 1 when none of the n float32 values at ptr is NaN or ±Infinity. It sums x·0,
 * which is 0 for finite x and NaN otherwise, four lanes at a time.
 */
export function finiteModule(): Uint8Array {
  const [p, n, i, endVec, endAll, zero, acc, tail] = [0, 1, 2, 3, 4, 5, 6, 7];
  const code = new Code();
  code.get(n).i32(-4).byte(op.i32And).i32(2).byte(op.i32Shl).set(endVec);
  code.get(n).i32(2).byte(op.i32Shl).set(endAll);
  code.byte(op.f32Const).f32(0).simd(simd.f32x4Splat).set(zero);
  code.get(zero).set(acc);
  // Vector part.
  code.byte(op.block, 0x40, op.loop, 0x40);
  code.get(i).get(endVec).byte(op.i32GeU, op.brIf).u32(1);
  code.get(acc).get(p).get(i).byte(op.i32Add).simd(simd.v128Load).memarg(2);
  code.get(zero).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc);
  code.get(i).i32(16).byte(op.i32Add).set(i);
  code.byte(op.br).u32(0).byte(op.end, op.end);
  // Lanes, then the scalar tail.
  code.get(acc).simd(simd.f32x4ExtractLane).byte(0);
  for (let lane = 1; lane < 4; lane++) code.get(acc).simd(simd.f32x4ExtractLane).byte(lane).byte(op.f32Add);
  code.set(tail);
  code.byte(op.block, 0x40, op.loop, 0x40);
  code.get(i).get(endAll).byte(op.i32GeU, op.brIf).u32(1);
  code.get(tail).get(p).get(i).byte(op.i32Add).byte(op.f32Load).memarg(2);
  code.byte(op.f32Const).f32(0).byte(op.f32Mul, op.f32Add).set(tail);
  code.get(i).i32(4).byte(op.i32Add).set(i);
  code.byte(op.br).u32(0).byte(op.end, op.end);
  code.get(tail).byte(op.f32Const).f32(0).byte(op.f32Eq);
  return encodeModule([
    {
      name: FINITE,
      params: [I32, I32],
      results: [I32],
      locals: [I32, I32, I32, V128, V128, F32],
      body: code,
    },
  ]);
}
