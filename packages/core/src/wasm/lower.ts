import type { KernelPlan } from '../lowering/kernel-plan.js';
import { CodeWriter, encodeModule, F32, I32, Op, Simd, V128, type ValType } from './encoder.js';

/**
 * Lowering of a planned graph (see `lowering/kernel-plan.ts`) to a WebAssembly SIMD kernel over
 * float32 data, four lanes per instruction, then a scalar tail. Every operation rounds to float32,
 * as a float32 tensor library does; per-step scalars come from the plan, computed on the host in
 * float64 and rounded once to float32 when passed.
 *
 * The kernel is `step(in₀, …, out₀, …, n, s₀, …)`: one byte pointer per loaded input (the plan's
 * `loads`), one per output (in the order asked for), the element count, then the plan's scalars.
 * Where the tensors live is the caller's business (the core's streaming arena, tfjs's wasm heap): an
 * output pointer may equal an input pointer, since each element's inputs are loaded before any of
 * its outputs is stored.
 */

/** A lowered kernel: the module bytes and the order of its pointer arguments. */
export interface LoweredKernel {
  readonly bytes: Uint8Array;
  readonly plan: KernelPlan;
  /** Input slots, in pointer-argument order. */
  readonly inputs: readonly string[];
  /** Output slots, in pointer-argument order. */
  readonly outputs: readonly string[];
}

/** Export name of the kernel function. */
export const KERNEL_EXPORT = 'step';

const BINARY = {
  add: [Simd.f32x4Add, Op.f32Add],
  sub: [Simd.f32x4Sub, Op.f32Sub],
  mul: [Simd.f32x4Mul, Op.f32Mul],
  div: [Simd.f32x4Div, Op.f32Div],
} as const;

/**
 * Lowers a plan writing `outputs` (default: the plan's `stores`, for updating in place; tfjs asks for
 * every output of the graph, written to fresh tensors).
 */
export function lowerToWasm(plan: KernelPlan, outputs: readonly string[] = plan.stores): LoweredKernel {
  const { graph, live, operand, small, uses } = plan;
  for (const name of outputs) {
    if (!(name in graph.outputs)) throw new Error(`graph ${graph.key}: "${name}" is not an output`);
  }
  const inputs = plan.loads;
  const params: ValType[] = [
    ...inputs.map((): ValType => I32),
    ...outputs.map((): ValType => I32),
    I32,
    ...uses.map((): ValType => F32),
  ];
  const pIn = (k: number) => k;
  const pOut = (j: number) => inputs.length + j;
  const pN = inputs.length + outputs.length;
  const pScalar = (u: number) => pN + 1 + u;
  const locals: ValType[] = [];
  const local = (type: ValType) => params.length + locals.push(type) - 1;
  const at = local(I32);
  const endVector = local(I32);
  const endAll = local(I32);
  const splat = uses.map(() => local(V128));
  const vector = new Map<number, number>();
  const lane = new Map<number, number>();
  for (const node of graph.nodes) {
    if (live.has(node.id) && node.kind === 'tensor') {
      vector.set(node.id, local(V128));
      lane.set(node.id, local(F32));
    }
  }
  const inputIndex = new Map(inputs.map((name, k) => [name, k]));

  const body = new CodeWriter();
  // Byte offsets: the vector part ends at 16·⌊n/4⌋, the tail at 4n.
  body.localGet(pN).i32Const(-4).op(Op.i32And).i32Const(2).op(Op.i32Shl).localSet(endVector);
  body.localGet(pN).i32Const(2).op(Op.i32Shl).localSet(endAll);
  uses.forEach((_, u) => {
    body.localGet(pScalar(u)).simd(Simd.f32x4Splat).localSet(splat[u]);
  });

  const pass = (simd: boolean) => {
    const value = simd ? vector : lane;
    const arith = (pair: readonly [number, number]) => (simd ? body.simd(pair[0]) : body.op(pair[1]));
    const scalarArg = (u: number) => body.localGet(simd ? splat[u] : pScalar(u));
    const end = simd ? endVector : endAll;
    // The test before the loop and at its end: one branch per iteration.
    body.block().localGet(at).localGet(end).op(Op.i32GeU).brIf(0).loop();
    for (const node of graph.nodes) {
      if (!live.has(node.id) || node.kind !== 'tensor') continue;
      switch (node.op) {
        case 'input':
          body
            .localGet(pIn(inputIndex.get(node.name)!))
            .localGet(at)
            .op(Op.i32Add);
          if (simd) body.simd(Simd.v128Load).memarg(2, 0);
          else body.op(Op.f32Load).memarg(2, 0);
          break;
        case 'sqrt':
        case 'abs':
          body.localGet(value.get(node.args[0])!);
          if (simd) body.simd(node.op === 'sqrt' ? Simd.f32x4Sqrt : Simd.f32x4Abs);
          else body.op(node.op === 'sqrt' ? Op.f32Sqrt : Op.f32Abs);
          break;
        case 'lerp': {
          const [a, b] = [value.get(node.args[0])!, value.get(node.args[1])!];
          const w = operand.get(node.id)!;
          if (small.has(node.id)) {
            // a + w·(b − a)
            body.localGet(a);
            scalarArg(w);
            body.localGet(b).localGet(a);
            arith(BINARY.sub);
            arith(BINARY.mul);
            arith(BINARY.add);
          } else {
            // b − (b − a)·(1 − w)
            body.localGet(b).localGet(b).localGet(a);
            arith(BINARY.sub);
            scalarArg(w);
            arith(BINARY.mul);
            arith(BINARY.sub);
          }
          break;
        }
        default: {
          const [a, b] = node.args;
          body.localGet(value.get(a)!);
          const u = operand.get(node.id);
          if (u === undefined) body.localGet(value.get(b)!);
          else scalarArg(u);
          // A scalar divisor arrives as its reciprocal.
          arith(node.op === 'div' && u !== undefined ? BINARY.mul : BINARY[node.op]);
        }
      }
      body.localSet(value.get(node.id)!);
    }
    outputs.forEach((name, j) => {
      body.localGet(pOut(j)).localGet(at).op(Op.i32Add).localGet(value.get(graph.outputs[name])!);
      if (simd) body.simd(Simd.v128Store).memarg(2, 0);
      else body.op(Op.f32Store).memarg(2, 0);
    });
    body
      .localGet(at)
      .i32Const(simd ? 16 : 4)
      .op(Op.i32Add)
      .op(Op.localTee)
      .u32(at)
      .localGet(end)
      .op(Op.i32LtU)
      .brIf(0)
      .end()
      .end();
  };
  pass(true);
  pass(false);

  const bytes = encodeModule([{ name: KERNEL_EXPORT, params, results: [], locals, body }]);
  return { bytes, plan, inputs, outputs };
}

/** Export name of the finiteness check `(ptr: i32, n: i32) → i32`. */
export const FINITE_EXPORT = 'finite';

/**
 * A module whose `finite(ptr, n)` returns 1 when none of the `n` float32 values at byte `ptr` is NaN
 * or ±Infinity, else 0. It sums x·0, which is 0 for finite x and NaN otherwise: four lanes at a time,
 * then a scalar tail.
 */
export function lowerFiniteCheck(): Uint8Array {
  const [PTR, N, AT, END_VECTOR, END_ALL, END_WIDE, ZERO, TAIL] = [0, 1, 2, 3, 4, 5, 6, 7];
  // Four independent sums over 64 bytes per iteration, so that no addition waits for the previous
  // one; then 16 bytes per iteration, then single floats.
  const ACC = [8, 9, 10, 11];
  const body = new CodeWriter();
  body.localGet(N).i32Const(-4).op(Op.i32And).i32Const(2).op(Op.i32Shl).localSet(END_VECTOR);
  body.localGet(N).i32Const(-16).op(Op.i32And).i32Const(2).op(Op.i32Shl).localSet(END_WIDE);
  body.localGet(N).i32Const(2).op(Op.i32Shl).localSet(END_ALL);
  body.f32Const(0).simd(Simd.f32x4Splat).localSet(ZERO);
  for (const acc of ACC) body.localGet(ZERO).localSet(acc);
  const loop = (end: number, step: number, emit: () => void) => {
    body.block().localGet(AT).localGet(end).op(Op.i32GeU).brIf(0).loop();
    emit();
    body.localGet(AT).i32Const(step).op(Op.i32Add).op(Op.localTee).u32(AT);
    body.localGet(end).op(Op.i32LtU).brIf(0).end().end();
  };
  const accumulate = (acc: number, offset: number) => {
    body.localGet(acc).localGet(PTR).localGet(AT).op(Op.i32Add).simd(Simd.v128Load).memarg(2, offset);
    body.localGet(ZERO).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).localSet(acc);
  };
  loop(END_WIDE, 64, () => ACC.forEach((acc, k) => accumulate(acc, 16 * k)));
  loop(END_VECTOR, 16, () => accumulate(ACC[0], 0));
  body.localGet(ACC[0]).localGet(ACC[1]).simd(Simd.f32x4Add);
  body.localGet(ACC[2]).localGet(ACC[3]).simd(Simd.f32x4Add).simd(Simd.f32x4Add).localSet(ACC[0]);
  body.localGet(ACC[0]).simd(Simd.f32x4ExtractLane).byte(0);
  for (let l = 1; l < 4; l++) body.localGet(ACC[0]).simd(Simd.f32x4ExtractLane).byte(l).op(Op.f32Add);
  body.localSet(TAIL);
  loop(END_ALL, 4, () => {
    body.localGet(TAIL).localGet(PTR).localGet(AT).op(Op.i32Add).op(Op.f32Load).memarg(2, 0);
    body.f32Const(0).op(Op.f32Mul).op(Op.f32Add).localSet(TAIL);
  });
  body.localGet(TAIL).f32Const(0).op(Op.f32Eq);
  return encodeModule([
    {
      name: FINITE_EXPORT,
      params: [I32, I32],
      results: [I32],
      locals: [I32, I32, I32, I32, V128, F32, V128, V128, V128, V128],
      body,
    },
  ]);
}

/** The smallest module using a SIMD instruction: it validates exactly when the engine has SIMD. */
export function simdProbe(): Uint8Array {
  const body = new CodeWriter().i32x4Const(0).op(Op.drop);
  return encodeModule([{ name: 'probe', params: [], results: [], locals: [], body }]);
}
