import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MemberView } from '../engine/layout.js';
import type { ScheduleFreeOptimizer } from '../optimizer.js';
import {
  AdamWScheduleFree,
  AdamWScheduleFreeClosure,
  AdamWScheduleFreeReference,
  RAdamScheduleFree,
  SGDScheduleFree,
} from '../typed-array/classes.js';
import type { TypedArray } from '../typed-array/ops.js';
import { Arena } from './arena.js';
import { RESIDENT_MIN_ELEMENTS, wasmSimdSupported } from './runtime.js';

// Optimizer-level checks of `execution: 'wasm'`. The conformance suite covers every class on small
// parameters (streamed through scratch memory); these cover large ones, whose state is resident in
// wasm memory, plus fallbacks and the finiteness check.

const LARGE = RESIDENT_MIN_ELEMENTS + 7;
const RTOL = 2e-6; // the conformance suite's float32 tolerance
const wave = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(seed + 1.3 * i));

type Ctor = new (
  params: Record<string, TypedArray>,
  options: Record<string, unknown>,
) => ScheduleFreeOptimizer<TypedArray, object>;

const classes: Array<[string, Ctor, Record<string, unknown>]> = [
  ['AdamWScheduleFree', AdamWScheduleFree as never, { lr: 0.01, weightDecay: 0.01, warmupSteps: 2 }],
  ['AdamWScheduleFreeReference', AdamWScheduleFreeReference as never, { lr: 0.01, weightDecay: 0.01 }],
  ['SGDScheduleFree', SGDScheduleFree as never, { lr: 0.1, momentum: 0.9 }],
  ['RAdamScheduleFree', RAdamScheduleFree as never, { lr: 0.01, weightDecay: 0.001 }],
];

/** Which state slots of a parameter live in wasm memory (read through the engine's internals). */
function residentSlots(opt: object, name: string): string[] {
  const engine = (opt as { engine: { layout(): ReadonlyArray<MemberView<Float32Array>> } }).engine;
  const slots = engine.layout().find((m) => m.params[0].name === name)!.slots;
  return Object.keys(slots).filter((slot) => Arena.of(slots[slot]) !== undefined);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>) {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  }
  expect(got.length).toBe(want.length);
  expect(worst).toBeLessThanOrEqual(RTOL);
}

describe.runIf(wasmSimdSupported())("execution: 'wasm' on large parameters", () => {
  for (const [name, Cls, options] of classes) {
    it(`${name} follows the float64 reference through steps, mode switches and evalParams`, () => {
      const w32 = Float32Array.from(wave(LARGE, 1));
      const b32 = Float32Array.from(wave(5, 2)); // a small parameter in the same group streams
      const w64 = Float64Array.from(w32);
      const b64 = Float64Array.from(b32);
      const opt = new Cls({ w: w32, b: b32 }, { ...options, execution: 'wasm' }).train();
      const ref = new Cls({ w: w64, b: b64 }, options).train();
      for (let s = 0; s < 5; s++) {
        const gw = wave(LARGE, 10 + s);
        const gb = wave(5, 20 + s);
        opt.step({ w: Float32Array.from(gw), b: Float32Array.from(gb) });
        ref.step({ w: gw, b: gb });
        expectClose(w32, w64);
        expectClose(b32, b64);
        expectClose(opt.evalParams().w, ref.evalParams().w);
      }
      // The large parameter's state lives in wasm memory; the small one's streams.
      const state = Object.keys(opt.stateDict().state.w).sort();
      expect(residentSlots(opt, 'w').sort()).toEqual(state);
      expect(residentSlots(opt, 'b')).toEqual([]);
      // The caller's arrays are still the parameters, updated in place.
      expect(opt.params.w).toBe(w32);
      opt.eval();
      ref.eval();
      expectClose(w32, w64);
      opt.train();
      ref.train();
      expectClose(w32, w64);
    });
  }

  it('AdamWScheduleFreeClosure leaves x in the parameters after each step', () => {
    const w32 = Float32Array.from(wave(LARGE, 3));
    const w64 = Float64Array.from(w32);
    const opt = new AdamWScheduleFreeClosure({ w: w32 }, { lr: 0.01, execution: 'wasm' });
    const ref = new AdamWScheduleFreeClosure({ w: w64 }, { lr: 0.01 });
    for (let s = 0; s < 4; s++) {
      const g = wave(LARGE, 30 + s);
      opt.step(() => ({ w: Float32Array.from(g) }));
      ref.step(() => ({ w: g }));
      expectClose(w32, w64);
    }
  });

  it('round-trips its state through stateDict and loadStateDict', () => {
    const make = () => {
      const w = Float32Array.from(wave(LARGE, 4));
      return { w, opt: new AdamWScheduleFree({ w }, { lr: 0.01, execution: 'wasm' }).train() };
    };
    const a = make();
    const b = make();
    for (let s = 0; s < 3; s++) {
      const g = Float32Array.from(wave(LARGE, 40 + s));
      a.opt.step({ w: g });
      b.opt.step({ w: g });
    }
    // Reloading replaces b's resident state with plain arrays; the next step moves it back.
    const saved = JSON.parse(JSON.stringify(b.opt.stateDict()));
    b.opt.loadStateDict(saved);
    expect(b.opt.stateDict()).toEqual(a.opt.stateDict());
    for (let s = 0; s < 2; s++) {
      const g = Float32Array.from(wave(LARGE, 50 + s));
      a.opt.step({ w: g });
      b.opt.step({ w: g });
    }
    expect(b.w).toEqual(a.w);
    expect(b.opt.stateDict()).toEqual(a.opt.stateDict());
  });

  it('is the default for Float32Array; Float64Array keeps the float64 JavaScript loop', () => {
    const w = Float32Array.from(wave(LARGE, 8));
    const opt = new AdamWScheduleFree({ w }, { lr: 0.01 }).train();
    opt.step({ w: Float32Array.from(wave(LARGE, 80)) });
    expect(residentSlots(opt, 'w').sort()).toEqual(['v', 'z']);

    const run = (execution?: 'fused') => {
      const p = Float64Array.from(wave(33, 9));
      const o = new AdamWScheduleFree({ p }, { lr: 0.01, ...(execution ? { execution } : {}) }).train();
      for (let s = 0; s < 3; s++) o.step({ p: wave(33, 90 + s) });
      return p;
    };
    expect(run()).toEqual(run('fused'));
  });

  it('rejects a non-finite gradient before anything changes', () => {
    const w = Float32Array.from(wave(LARGE, 5));
    const opt = new AdamWScheduleFree({ w }, { lr: 0.01, execution: 'wasm' }).train();
    opt.step({ w: Float32Array.from(wave(LARGE, 60)) });
    const before = { w: w.slice(), state: JSON.stringify(opt.stateDict()) };
    for (const at of [0, LARGE >> 1, LARGE - 1]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const g = Float32Array.from(wave(LARGE, 61));
        g[at] = bad;
        expect(() => opt.step({ w: g })).toThrow(expect.objectContaining({ code: 'NON_FINITE_GRAD' }));
      }
    }
    expect(w).toEqual(before.w);
    expect(JSON.stringify(opt.stateDict())).toBe(before.state);

    const skipping = new AdamWScheduleFree({ w }, { execution: 'wasm', nonFiniteGrads: 'skip' }).train();
    const g = new Float32Array(LARGE);
    g[LARGE - 3] = Number.NaN;
    expect(skipping.step({ w: g })).toBe(false);
    expect(w).toEqual(before.w);
  });
});

describe("execution: 'wasm' fallbacks", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  const trajectory = (Cls: Ctor, params: TypedArray, execution: string) => {
    const opt = new Cls({ w: params }, { lr: 0.01, weightDecay: 0.01, execution }).train();
    for (let s = 0; s < 3; s++) {
      const g = params.slice();
      g.set(wave(params.length, 70 + s));
      opt.step({ w: g });
    }
    opt.eval();
    return params;
  };

  it('streams the state when no arena fits in memory, with the same float32 results', () => {
    const run = () => {
      const w = Float32Array.from(wave(LARGE, 11));
      const opt = new AdamWScheduleFree({ w }, { lr: 0.01, weightDecay: 0.01, execution: 'wasm' }).train();
      for (let s = 0; s < 3; s++) opt.step({ w: Float32Array.from(wave(LARGE, 110 + s)) });
      return { w, resident: residentSlots(opt, 'w') };
    };
    const resident = run();
    expect(resident.resident.length).toBeGreaterThan(0);
    const api = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => object } })
      .WebAssembly;
    const RealMemory = api.Memory;
    // Refuse memories as large as a resident arena; the scratch-only arena is far smaller.
    vi.spyOn(api, 'Memory').mockImplementation(function (this: unknown, d: { initial: number }) {
      if (d.initial >= 8) throw new RangeError('out of memory (test)');
      return new RealMemory(d);
    } as never);
    const streamed = run();
    expect(streamed.resident).toEqual([]);
    expect(streamed.w).toEqual(resident.w);
  });

  it('runs Float64Array parameters with the float64 JavaScript loop', () => {
    const Cls = AdamWScheduleFree as unknown as Ctor;
    const wasm = trajectory(Cls, Float64Array.from(wave(101, 6)), 'wasm');
    const fused = trajectory(Cls, Float64Array.from(wave(101, 6)), 'fused');
    expect(wasm).toEqual(fused);
  });

  it('runs the JavaScript loop when the engine has no WebAssembly', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    vi.resetModules();
    const runtime = await import('./runtime.js');
    expect(runtime.wasmSimdSupported()).toBe(false);
    const { AdamWScheduleFree: Fresh } = await import('../typed-array/classes.js');
    const wasm = trajectory(Fresh as unknown as Ctor, Float32Array.from(wave(LARGE, 7)), 'wasm');
    vi.unstubAllGlobals();
    const fused = trajectory(Fresh as unknown as Ctor, Float32Array.from(wave(LARGE, 7)), 'fused');
    expect(wasm).toEqual(fused);
  });

  it("names 'wasm' among the valid execution modes", () => {
    expect(() => new AdamWScheduleFree({ w: new Float32Array(2) }, { execution: 'simd' as never })).toThrow(
      /'fused', 'wasm', 'eager' or 'trace'/,
    );
  });
});
