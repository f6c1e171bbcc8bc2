import { describe, expect, it } from 'vitest';
import { fusedStepProgram, lerpToZProgram, referenceStepProgram } from '../algorithms/programs.js';
import { trace } from '../ir/trace.js';
import { lerpPattern, planKernel } from '../lowering/kernel-plan.js';
import type { WasmApi } from './arena.js';
import { ByteWriter, CodeWriter, encodeModule, I32, Op } from './encoder.js';
import { lowerFiniteCheck, lowerToWasm, simdProbe } from './lower.js';

// The core's lib has no DOM types; the runtime declares the part of the API it uses.
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const bytes = (write: (w: ByteWriter) => void) => {
  const w = new ByteWriter();
  write(w);
  return w.bytes;
};

describe('wasm binary encoder', () => {
  it('writes unsigned LEB128', () => {
    expect(bytes((w) => w.u32(0))).toEqual([0x00]);
    expect(bytes((w) => w.u32(127))).toEqual([0x7f]);
    expect(bytes((w) => w.u32(128))).toEqual([0x80, 0x01]);
    expect(bytes((w) => w.u32(624485))).toEqual([0xe5, 0x8e, 0x26]);
    expect(bytes((w) => w.u32(0xffffffff))).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => bytes((w) => w.u32(-1))).toThrow(RangeError);
  });

  it('writes signed LEB128', () => {
    expect(bytes((w) => w.s32(0))).toEqual([0x00]);
    expect(bytes((w) => w.s32(63))).toEqual([0x3f]);
    expect(bytes((w) => w.s32(64))).toEqual([0xc0, 0x00]);
    expect(bytes((w) => w.s32(-1))).toEqual([0x7f]);
    expect(bytes((w) => w.s32(-64))).toEqual([0x40]);
    expect(bytes((w) => w.s32(-65))).toEqual([0xbf, 0x7f]);
    expect(bytes((w) => w.s32(-123456))).toEqual([0xc0, 0xbb, 0x78]);
    expect(bytes((w) => w.s32(0x7f800000))).toEqual([0x80, 0x80, 0x80, 0xfc, 0x07]);
  });

  it('encodes a module that validates and runs', () => {
    // add(a, b) = a + b, to check the section layout independently of SIMD.
    const body = new CodeWriter().localGet(0).localGet(1).op(Op.i32Add);
    const module = encodeModule([{ name: 'add', params: [I32, I32], results: [I32], locals: [], body }]);
    expect(WebAssembly.validate(module)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(module), { env: { memory } });
    expect((instance.exports.add as (a: number, b: number) => number)(40, 2)).toBe(42);
  });

  it('produces valid SIMD modules for the probe, the finiteness check and every step program', () => {
    expect(WebAssembly.validate(simdProbe())).toBe(true);
    expect(WebAssembly.validate(lowerFiniteCheck())).toBe(true);
    const d = { secondMoment: true, normalize: true, innerMomentum: true };
    const programs = [fusedStepProgram(d, true), referenceStepProgram(d, 'z-at-y'), lerpToZProgram];
    for (const program of programs) {
      const graph = trace(program);
      const lerps = graph.nodes.filter((n) => n.op === 'lerp').length;
      for (const pattern of ['s'.repeat(lerps), 'l'.repeat(lerps)]) {
        expect(WebAssembly.validate(lowerToWasm(planKernel(graph, pattern)).bytes)).toBe(true);
      }
    }
  });

  it('reports which inputs are read and which outputs change', () => {
    const graph = trace(lerpToZProgram);
    const kernel = lowerToWasm(planKernel(graph, lerpPattern(graph, { w: 0.9 })));
    expect(kernel.inputs).toEqual(['param', 'z']);
    expect(kernel.outputs).toEqual(['param']);
    expect(kernel.plan.uses).toEqual([{ kind: 'oneMinus', name: 'w' }]);
    expect(planKernel(graph, 's').uses).toEqual([{ kind: 'value', name: 'w' }]);
    expect(() => lowerToWasm(planKernel(graph, 's'), ['param', 'z'])).toThrow(/not an output/);
  });

  it('rejects a lerp pattern that does not fit the graph', () => {
    const graph = trace(lerpToZProgram);
    expect(() => planKernel(graph, '')).toThrow(/does not fit/);
    expect(() => planKernel(graph, 'sl')).toThrow(/does not fit/);
    expect(() => planKernel(graph, 'x')).toThrow(/does not fit/);
  });
});

describe('the finiteness check', () => {
  it('finds a NaN or ±Infinity at every position of every length up to 150, and reads nothing past n', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const module = new WebAssembly.Module(lowerFiniteCheck());
    const { finite } = new WebAssembly.Instance(module, { env: { memory } }).exports as {
      finite: (ptr: number, n: number) => number;
    };
    const f32 = new Float32Array(memory.buffer);
    const at = 16; // elements from the start: byte 64
    let wrong = 0;
    for (let n = 0; n <= 150; n++) {
      for (let pos = -1; pos < n; pos++) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (let i = 0; i < n; i++) f32[at + i] = Math.sin(i) * 3e38;
          if (pos >= 0) f32[at + pos] = bad;
          f32[at + n] = Number.NaN;
          if (finite(4 * at, n) !== (pos < 0 ? 1 : 0)) wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
  });
});
