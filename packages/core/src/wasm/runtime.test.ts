import { describe, expect, it } from 'vitest';
import type { BinaryOp, Graph, IRNode } from '../ir/graph.js';
import { interpret } from '../ir/interpret.js';
import { TypedArrayOps } from '../typed-array/ops.js';
import { CHUNK_ELEMENTS } from './arena.js';
import { allFiniteWasm, RESIDENT_MIN_ELEMENTS, runGraphWasm, wasmSimdSupported } from './runtime.js';

const ops = new TypedArrayOps();

/** Deterministic float32 data in [lo, hi). */
function data(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

const input = (id: number, name: string): IRNode => ({ id, op: 'input', kind: 'tensor', name });
const scalar = (id: number, name: string): IRNode => ({ id, op: 'scalar', kind: 'scalar', name });

/** `out ← a ∘ b` (tensor or scalar b), written into slot `out` (default: a). */
function binaryGraph(op: BinaryOp, right: 'tensor' | 'scalar', out = 'a'): Graph {
  return {
    key: `test-${op}-${right}-${out}`,
    nodes: [
      input(0, 'a'),
      input(1, 'b'),
      scalar(2, 's'),
      { id: 3, op, kind: 'tensor', args: [0, right === 'tensor' ? 1 : 2] },
    ],
    inputs: ['a', 'b'],
    scalars: ['s'],
    outputs: { [out]: 3 },
  };
}

const sqrtGraph: Graph = {
  key: 'test-sqrt',
  nodes: [input(0, 'a'), { id: 1, op: 'sqrt', kind: 'tensor', args: [0] }],
  inputs: ['a'],
  scalars: [],
  outputs: { a: 1 },
};

const lerpGraph: Graph = {
  key: 'test-lerp',
  nodes: [
    input(0, 'a'),
    input(1, 'b'),
    scalar(2, 'w'),
    { id: 3, op: 'lerp', kind: 'tensor', args: [0, 1, 2] },
  ],
  inputs: ['a', 'b'],
  scalars: ['w'],
  outputs: { a: 3 },
};

/**
 * The interpreter over float32 arrays: every operation rounds to float32, as the kernels do (the
 * scalars stay float64 there, so tests use scalars that float32 represents unless said otherwise).
 */
function eager32(graph: Graph, tensors: Record<string, Float32Array>, scalars: Record<string, number>) {
  const copies = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.slice()]));
  return interpret(graph, ops, copies, scalars) as Record<string, Float32Array>;
}

/** Index of the first element that differs (NaN equals NaN), or -1. */
function firstMismatch(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return -2;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

/** Runs a graph on copies of `tensors` that sit between guard elements, checking the guards. */
function runGuarded(graph: Graph, tensors: Record<string, Float32Array>, scalars: Record<string, number>) {
  const GUARD = 4;
  const slots: Record<string, Float32Array> = {};
  const backing: Record<string, Float32Array> = {};
  for (const [name, values] of Object.entries(tensors)) {
    backing[name] = new Float32Array(values.length + 2 * GUARD).fill(12345);
    slots[name] = backing[name].subarray(GUARD, GUARD + values.length);
    slots[name].set(values);
  }
  expect(runGraphWasm(graph, slots, scalars)).toBe(true);
  for (const [name, b] of Object.entries(backing)) {
    const n = tensors[name].length;
    expect([...b.subarray(0, GUARD), ...b.subarray(GUARD + n)]).toEqual(Array(2 * GUARD).fill(12345));
  }
  return slots;
}

const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 13, CHUNK_ELEMENTS - 1, CHUNK_ELEMENTS, CHUNK_ELEMENTS + 5, 40_003];
const f = Math.fround;

describe.runIf(wasmSimdSupported())('wasm SIMD kernels against the IR interpreter', () => {
  it('has SIMD in this engine', () => expect(wasmSimdSupported()).toBe(true));

  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it(`${op} of two tensors rounds exactly like float32 arithmetic, at every size`, () => {
      for (const n of SIZES) {
        const tensors = { a: data(n, 1), b: data(n, 2, 0.5, 3) };
        const want = eager32(binaryGraph(op, 'tensor'), tensors, { s: 0 }).a;
        expect(firstMismatch(runGuarded(binaryGraph(op, 'tensor'), tensors, { s: 0 }).a, want)).toBe(-1);
      }
    });
  }

  for (const op of ['add', 'sub', 'mul'] as const) {
    it(`${op} with a scalar uses the scalar rounded once to float32`, () => {
      for (const n of [5, CHUNK_ELEMENTS + 3]) {
        const tensors = { a: data(n, 3), b: data(n, 4) };
        const want = eager32(binaryGraph(op, 'scalar'), tensors, { s: f(0.1234567) }).a;
        const got = runGuarded(binaryGraph(op, 'scalar'), tensors, { s: 0.1234567 }).a;
        expect(firstMismatch(got, want)).toBe(-1);
      }
    });
  }

  it('div by a scalar multiplies by its float32 reciprocal: within 2 ulp of true division', () => {
    const n = CHUNK_ELEMENTS + 3;
    const tensors = { a: data(n, 3), b: data(n, 4) };
    const got = runGuarded(binaryGraph('div', 'scalar'), tensors, { s: 0.37 }).a;
    const inv = f(1 / 0.37);
    expect(
      firstMismatch(
        got,
        tensors.a.map((x) => f(x * inv)),
      ),
    ).toBe(-1);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const exact = tensors.a[i] / 0.37;
      worst = Math.max(worst, Math.abs(got[i] - exact) / (2 ** -23 * Math.abs(exact)));
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('sqrt rounds exactly like float32 arithmetic', () => {
    for (const n of SIZES) {
      const tensors = { a: data(n, 5, 0, 100) };
      expect(firstMismatch(runGuarded(sqrtGraph, tensors, {}).a, eager32(sqrtGraph, tensors, {}).a)).toBe(-1);
    }
  });

  it("lerp takes both of PyTorch's branches, with w or 1 − w rounded once", () => {
    const n = 1001;
    const tensors = { a: data(n, 6), b: data(n, 7) };
    for (const w of [0.3, -0.2, 0.49, 0.5, 0.7, -0.9, 1.5]) {
      const [fw, fomw] = [f(w), f(1 - w)];
      const want = tensors.a.map((a, i) => {
        const d = f(tensors.b[i] - a);
        return Math.abs(w) < 0.5 ? f(a + f(fw * d)) : f(tensors.b[i] - f(d * fomw));
      });
      expect(firstMismatch(runGuarded(lerpGraph, tensors, { w }).a, want)).toBe(-1);
    }
    expect(firstMismatch(runGuarded(lerpGraph, tensors, { w: 0 }).a, tensors.a)).toBe(-1);
    expect(firstMismatch(runGuarded(lerpGraph, tensors, { w: 1 }).a, tensors.b)).toBe(-1);
  });
  it('writes an output into another slot (a copy) without changing the source', () => {
    const graph: Graph = {
      key: 'test-copy',
      nodes: [input(0, 'a'), input(1, 'b')],
      inputs: ['a', 'b'],
      scalars: [],
      outputs: { a: 1, b: 1 },
    };
    const tensors = { a: data(21, 8), b: data(21, 9) };
    const got = runGuarded(graph, tensors, {});
    expect(firstMismatch(got.a, tensors.b)).toBe(-1);
    expect(firstMismatch(got.b, tensors.b)).toBe(-1);
  });

  it('keeps large state slots resident in wasm memory, padded so neighbours stay intact', () => {
    // z ← z·s + a, v ← v + a·a: two changed state slots next to each other in one arena.
    const graph: Graph = {
      key: 'test-resident',
      nodes: [
        input(0, 'a'),
        input(1, 'z'),
        input(2, 'v'),
        scalar(3, 's'),
        { id: 4, op: 'mul', kind: 'tensor', args: [1, 3] },
        { id: 5, op: 'add', kind: 'tensor', args: [4, 0] },
        { id: 6, op: 'mul', kind: 'tensor', args: [0, 0] },
        { id: 7, op: 'add', kind: 'tensor', args: [2, 6] },
      ],
      inputs: ['a', 'z', 'v'],
      scalars: ['s'],
      outputs: { z: 5, v: 7 },
    };
    const n = RESIDENT_MIN_ELEMENTS + 3;
    const a = data(n, 10);
    const z = data(n, 11);
    const v = data(n, 12, 0, 1);
    const slots: Record<string, Float32Array> = { a, z, v };
    const before = { a: a.slice(), z: z.slice(), v: v.slice() };
    expect(runGraphWasm(graph, slots, { s: 0.5 })).toBe(true);
    // The state slots were replaced by views of wasm memory; the parameter-like input was not.
    expect(slots.a).toBe(a);
    expect(slots.z).not.toBe(z);
    expect(slots.v).not.toBe(v);
    expect(slots.z.buffer).toBe(slots.v.buffer);
    const once = eager32(graph, before, { s: 0.5 });
    expect(firstMismatch(slots.z, once.z)).toBe(-1);
    expect(firstMismatch(slots.v, once.v)).toBe(-1);

    // A second run works in place on the resident views.
    const [zView, vView] = [slots.z, slots.v];
    const twice = eager32(graph, { a, z: zView, v: vView }, { s: 0.5 });
    expect(runGraphWasm(graph, slots, { s: 0.5 })).toBe(true);
    expect(slots.z).toBe(zView);
    expect(slots.v).toBe(vView);
    expect(firstMismatch(slots.z, twice.z)).toBe(-1);
    expect(firstMismatch(slots.v, twice.v)).toBe(-1);
    expect(firstMismatch(slots.a, before.a)).toBe(-1);
  });
});

describe.runIf(wasmSimdSupported())('SIMD finiteness check', () => {
  it('accepts finite arrays of every size and finds NaN, Infinity and −Infinity anywhere', () => {
    for (const n of [1, 3, 4, 5, CHUNK_ELEMENTS, CHUNK_ELEMENTS + 3, 50_001]) {
      const a = data(n, 13, -3e38, 3e38);
      expect(allFiniteWasm(a)).toBe(true);
      for (const at of new Set([0, n >> 1, n - 1, n - (n % 4 || 4)])) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const b = a.slice();
          b[at] = bad;
          expect(allFiniteWasm(b)).toBe(false);
        }
      }
    }
    expect(allFiniteWasm(new Float32Array(0))).toBe(true);
    expect(allFiniteWasm(Float32Array.of(3.4e38, -3.4e38, 1e-45, -0))).toBe(true);
  });

  it('ignores stale data past the end of a short array', () => {
    const bad = Float32Array.of(1, 2, 3, 4, 5, 6, 7, Number.NaN);
    expect(allFiniteWasm(bad)).toBe(false);
    expect(allFiniteWasm(bad.subarray(0, 5))).toBe(true);
  });
});
