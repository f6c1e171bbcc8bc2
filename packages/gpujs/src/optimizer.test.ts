import * as core from '@schedulefree/core';
import { GPU, Input } from 'gpu.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AdamCScheduleFreePlusPaper,
  AdamWScheduleFree,
  AdamWScheduleFreeClosure,
  baseAlgorithms,
  GpuJsBaseOptimizer,
  RAdamScheduleFree,
  ScheduleFreeError,
  ScheduleFreeWrapper,
  SGDScheduleFree,
} from './index.js';

const gpus: GPU[] = [];
function gpu(mode: 'webasm' | 'cpu' = 'webasm'): GPU {
  const g = new GPU({ mode });
  gpus.push(g);
  return g;
}
afterEach(async () => {
  for (const g of gpus.splice(0)) await g.destroy();
  vi.restoreAllMocks();
});

/** gpu.js's `input(values, size)`; its typings declare `input` as a type only. */
const input = (data: Float32Array, size: [number, number]) => new Input(data as unknown as number[], size);

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return scale * (s / 2 ** 31 - 1);
  });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 2e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(tol + tol * Math.abs(want[i]));
  }
}

async function rejection(promise: Promise<unknown>): Promise<ScheduleFreeError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): ScheduleFreeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleFreeError);
    return error as ScheduleFreeError;
  }
  throw new Error('expected an error');
}

describe.each(['webasm', 'cpu'] as const)('gpu.js optimizers in %s mode', (mode) => {
  it('updates the Float32Array parameters in place, like the core float32 optimizer', async () => {
    const w = values(1001, 1);
    const b = values(3, 2);
    const reference = { w: w.slice(), b: b.slice() };
    const options = { lr: 0.01, weightDecay: 0.05, warmupSteps: 2 };
    const opt = await new AdamWScheduleFree(gpu(mode), { w, b }, options).train();
    const ref = new core.AdamWScheduleFree(reference, options).train();
    for (let step = 0; step < 6; step++) {
      const grads = { w: values(1001, 10 + step), b: values(3, 20 + step) };
      expect(await opt.step(grads)).toBe(true);
      ref.step(grads);
      expect(opt.params.w).toBe(w);
      expectClose(w, reference.w);
      expectClose(b, reference.b);
    }
    const x = await opt.evalParams();
    expectClose(x.w, ref.evalParams().w);
    expect(x.w).not.toBe(w);
    await opt.eval();
    expectClose(w, x.w);
    expect(opt.mode).toBe('eval');
    expect([...opt.kernelModes]).toEqual([mode]);
  });

  it('runs ScheduleFree+ with the loss and sums over every parameter, like the core float32 optimizer', async () => {
    const w = values(1001, 4);
    const b = values(3, 5);
    const reference = { w: w.slice(), b: b.slice() };
    const options = { lr: 0.5, weightDecay: 20, polyakBeta: 0.5 };
    const opt = await new AdamCScheduleFreePlusPaper(gpu(mode), { w, b }, options).train();
    const ref = new core.AdamCScheduleFreePlusPaper(reference, options).train();
    for (let step = 0; step < 5; step++) {
      // Step 3 leaves b without a gradient: it is left out of the sums and stays as it is.
      const grads = { w: values(1001, 30 + step, 0.1), b: step === 3 ? null : values(3, 40 + step, 0.1) };
      const loss = 2 / (step + 1);
      expect(await opt.step(grads, { loss })).toBe(true);
      ref.step(grads, { loss });
      expectClose(w, reference.w);
      expectClose(b, reference.b);
    }
    // The Polyak step moved the parameters (ρ > 0), as in the core.
    expect(opt.groupState(0).scheduledLr).toBeGreaterThan(0);
    expect(opt.groupState(0).scheduledLr).toBeCloseTo(ref.groupState(0).scheduledLr as number, 5);
    expectClose((await opt.evalParams()).w, ref.evalParams().w);
    // The step needs the loss: without it, a clear error that changes nothing.
    const before = w.slice();
    const error = await rejection(opt.step({ w: values(1001, 9), b: values(3, 9) }));
    expect(error.message).toMatch(/loss/);
    expect(w).toEqual(before);
    expect([...opt.kernelModes]).toEqual([mode]);
  });

  it('refuses the same array under two names (it would be updated twice per step)', async () => {
    const w = values(12, 6);
    const buffer = new Float32Array(10);
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['one array twice', () => new SGDScheduleFree(gpu(mode), { a: w, b: w }), /"a" and "b"/],
      [
        'overlapping views of one buffer',
        () => new SGDScheduleFree(gpu(mode), { a: buffer.subarray(0, 6), b: buffer.subarray(4) }),
        /"a" and "b"/,
      ],
      [
        'one array in two groups',
        () => new SGDScheduleFree(gpu(mode), [{ params: { a: w } }, { params: { b: w } }]),
        /"a" and "b"/,
      ],
      [
        'an input() over an array given too',
        () => new SGDScheduleFree(gpu(mode), { a: w, b: input(w, [3, 4]) }),
        /"a" and "b"/,
      ],
    ];
    for (const [what, make, names] of cases) {
      const error = thrown(make);
      expect(error.code, what).toBe('INVALID_PARAMS');
      expect(error.message, what).toMatch(names);
      expect(error.message, what).toMatch(/Pass each parameter once/);
    }
    // Views that do not overlap are two parameters.
    const split = new SGDScheduleFree(gpu(mode), { a: buffer.subarray(0, 5), b: buffer.subarray(5) });
    await split.dispose();
    // addParamGroup checks against the parameters the optimizer has, and changes nothing.
    const opt = await new SGDScheduleFree(gpu(mode), { a: w }, { lr: 0.1 }).train();
    const before = w.slice();
    const error = await rejection(opt.addParamGroup({ params: { c: w.subarray(2, 4) } }));
    expect(error.code).toBe('INVALID_PARAMS');
    expect(error.message).toMatch(/"a" and "c"/);
    expect(opt.paramGroups).toHaveLength(1);
    expect(Object.keys(opt.params)).toEqual(['a']);
    await opt.step({ a: values(12, 7) });
    expect(w).not.toEqual(before);
    await opt.dispose();
  });

  it('builds each kernel once per lerp pattern and passes a changing lr as an argument', async () => {
    const g = gpu(mode);
    const created = [vi.spyOn(g, 'createKernel'), vi.spyOn(g, 'createKernelMap')];
    const count = () => created.reduce((n, spy) => n + spy.mock.calls.length, 0);
    const w = values(64, 3);
    const reference = { w: w.slice() };
    const opt = await new SGDScheduleFree(g, { w }, { lr: 0.5 }).train();
    const ref = new core.SGDScheduleFree(reference, { lr: 0.5 }).train();
    const patterns = new Set<string>();
    // An external schedule: the lr changes every step.
    for (const [step, lr] of [0.5, 0.25, 0.2, 0.1, 0.3, 0.05, 0.4].entries()) {
      opt.paramGroups[0].lr = lr;
      ref.paramGroups[0].lr = lr;
      // The lerp branches of this step, as the core decides them.
      const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
      const pattern = core.lerpPattern(core.graphOf(plan.program), plan.scalars);
      const before = count();
      await opt.step({ w: values(64, 4 + step) });
      ref.step({ w: values(64, 4 + step) });
      // Kernels are built for a new lerp pattern only; a new lr alone builds nothing.
      if (patterns.has(pattern)) expect(count()).toBe(before);
      else expect(count()).toBeGreaterThan(before);
      patterns.add(pattern);
    }
    // The averaging weight is 1 at first and falls below ½: the two branches of its lerp.
    expect(patterns.size).toBe(2);
    expectClose(w, reference.w);
  });

  it('accepts shaped parameters and the nested rows of a 2-D gradient kernel', async () => {
    const g = gpu(mode);
    const flat = values(15, 7);
    const reference = { w: flat.slice() };
    const opt = await new RAdamScheduleFree(
      g,
      { w: input(flat, [5, 3]) },
      { lr: 0.1, silentSgdPhase: false },
    ).train();
    const ref = new core.RAdamScheduleFree(reference, { lr: 0.1, silentSgdPhase: false }).train();
    // The gradient of ½‖w − 1‖² as a gpu.js kernel with a 2-D output: nested rows in this mode.
    const gradKernel = g.createKernel(
      function (this: { thread: { x: number; y: number } }, w: number[][]) {
        return w[this.thread.y][this.thread.x] - 1;
      },
      { output: [5, 3] },
    );
    for (let step = 0; step < 5; step++) {
      // A shaped parameter comes back as rows of views into the array given, as 2-D kernels take it.
      const w = opt.params.w as Float32Array[];
      expect(w.map((row) => row.buffer === flat.buffer)).toEqual([true, true, true]);
      const rows = gradKernel(w) as Float32Array[];
      expect(rows).toHaveLength(3);
      await opt.step({ w: rows });
      ref.step({ w: Float32Array.from(reference.w, (v) => v - 1) });
    }
    expectClose(flat, reference.w);
  });

  it('saves and restores state by name, continuing the same trajectory', async () => {
    const options = { lr: 0.02, weightDecay: 0.01, warmupSteps: 3 };
    const start = { a: values(33, 1), b: values(7, 2) };
    const run = { a: start.a.slice(), b: start.b.slice() };
    const opt = await new AdamWScheduleFree(gpu(mode), run, options).train();
    const grads = (i: number) => ({ a: values(33, 100 + i), b: values(7, 200 + i) });
    for (let i = 0; i < 3; i++) await opt.step(grads(i));
    const saved = JSON.parse(JSON.stringify(await opt.stateDict()));
    expect(saved.mode).toBe('train');
    expect(saved.state.a.z).toHaveLength(33);
    // A new optimizer over the same values, with the parameters listed in the other order.
    const resumed = { b: run.b.slice(), a: run.a.slice() };
    const other = new AdamWScheduleFree(gpu(mode), resumed, options);
    await other.loadStateDict(saved);
    expect(other.mode).toBe('train');
    for (let i = 3; i < 6; i++) {
      await opt.step(grads(i));
      await other.step(grads(i));
    }
    expect(resumed.a).toEqual(run.a);
    expect(resumed.b).toEqual(run.b);
    const [mine, theirs] = [await other.stateDict(), await opt.stateDict()];
    expect(mine.state).toEqual(theirs.state);
    expect(mine.groups[0].counters).toEqual(theirs.groups[0].counters);
    expect(mine.groups[0].params).toEqual(['b', 'a']);
  });

  it('runs a closure optimizer with an asynchronous closure, holding x between steps', async () => {
    const w = values(9, 4);
    const reference = { w: w.slice() };
    const options = { lr: 0.05, weightDecay: 0.1 };
    const opt = new AdamWScheduleFreeClosure(gpu(mode), { w }, options);
    const ref = new core.AdamWScheduleFreeClosure(reference, options);
    for (let step = 0; step < 4; step++) {
      const loss = await opt.step(async () => {
        await Promise.resolve();
        const y = opt.params.w as Float32Array;
        return { loss: y[0], grads: { w: Float32Array.from(y, (v) => 2 * v) } };
      });
      ref.step(() => ({ w: Float32Array.from(reference.w, (v) => 2 * v) }));
      expect(typeof loss).toBe('number');
      expectClose(w, reference.w);
    }
  });

  it('fuses a wrapper and its base into the same kernels', async () => {
    const w = values(20, 8);
    const reference = { w: w.slice() };
    const g = gpu(mode);
    const { AdamW, ScheduleFreeWrapper: CoreWrapper } = await import('@schedulefree/wrapper');
    const opt = await new ScheduleFreeWrapper(
      g,
      baseAlgorithms.AdamW,
      { w },
      { lr: 0.05 },
      { momentum: 0.9 },
    ).train();
    const ref = new CoreWrapper(new AdamW(reference, { lr: 0.05 }), { momentum: 0.9 }).train();
    for (let step = 0; step < 4; step++) {
      await opt.step({ w: values(20, 30 + step) });
      ref.step({ w: values(20, 30 + step) });
    }
    expectClose(w, reference.w);
    const plain = new GpuJsBaseOptimizer(g, baseAlgorithms.SGD, { p: Float32Array.of(1, 2) }, { lr: 0.5 });
    await plain.step({ p: Float32Array.of(1, 1) });
    expect(Array.from((await plain.readParams()).p)).toEqual([0.5, 1.5]);
  });

  it('keeps un-awaited steps in order, also with promise-returning kernels', async () => {
    for (const asyncKernels of [false, true]) {
      const [w1, w2] = [values(50, 9), values(50, 9)];
      const a = await new SGDScheduleFree(gpu(mode), { w: w1 }, { lr: 0.3, asyncKernels }).train();
      const b = await new SGDScheduleFree(gpu(mode), { w: w2 }, { lr: 0.3 }).train();
      const pending = [0, 1, 2].map((i) => a.step({ w: values(50, 40 + i) }));
      await Promise.all(pending);
      for (const i of [0, 1, 2]) await b.step({ w: values(50, 40 + i) });
      expect(w1).toEqual(w2);
    }
  });

  it('adds a parameter group later, and leaves a parameter with a null gradient as it is', async () => {
    const [w, extra] = [values(10, 1), values(6, 2)];
    const reference = { w: w.slice(), extra: extra.slice() };
    const opt = await new AdamWScheduleFree(gpu(mode), { w }, { lr: 0.1 }).train();
    const ref = new core.AdamWScheduleFree({ w: reference.w }, { lr: 0.1 }).train();
    await opt.step({ w: values(10, 3) });
    ref.step({ w: values(10, 3) });
    const bad = await rejection(opt.addParamGroup({ params: { v: new Float64Array(2) as never } }));
    expect(bad.code).toBe('INVALID_PARAMS');
    await opt.addParamGroup({ params: { extra: input(extra, [3, 2]) }, lr: 0.05 });
    ref.addParamGroup({ params: { extra: reference.extra }, lr: 0.05 });
    expect((opt.params.extra as Float32Array[]).map((row) => row.buffer === extra.buffer)).toEqual([
      true,
      true,
    ]);
    for (let step = 0; step < 3; step++) {
      const grads = { w: step === 1 ? null : values(10, 4 + step), extra: values(6, 8 + step) };
      await opt.step(grads);
      ref.step(grads);
    }
    expectClose(w, reference.w);
    expectClose(extra, reference.extra);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.05]);
  });

  it('runs withEvalParams at x and restores y exactly', async () => {
    const w = values(12, 5);
    const opt = await new SGDScheduleFree(gpu(mode), { w }, { lr: 0.2 }).train();
    for (let i = 0; i < 3; i++) await opt.step({ w: values(12, 60 + i) });
    const y = w.slice();
    const x = await opt.evalParams();
    const seen = await opt.withEvalParams(async () => (opt.params.w as Float32Array).slice());
    expect(seen).toEqual(x.w);
    expect(w).toEqual(y);
    expect(opt.mode).toBe('train');
  });
});

describe('kernels are shared by the optimizers of one GPU', () => {
  it('builds nothing for a second optimizer with the same update and shapes', async () => {
    const g = gpu();
    const created = [vi.spyOn(g, 'createKernel'), vi.spyOn(g, 'createKernelMap')];
    const count = () => created.reduce((n, spy) => n + spy.mock.calls.length, 0);
    const run = async () => {
      const w = values(100, 1);
      const opt = await new AdamWScheduleFree(g, { w }, { lr: 0.1 }).train();
      for (let i = 0; i < 3; i++) await opt.step({ w: values(100, 10 + i) });
      await opt.eval();
      opt.dispose();
      return w;
    };
    const first = await run();
    const built = count();
    expect(built).toBeGreaterThan(0);
    expect(await run()).toEqual(first);
    expect(count()).toBe(built);
  });
});

describe('errors name the parameter and change nothing', () => {
  it('rejects parameters gpu.js cannot hold', () => {
    const g = gpu();
    const f64 = thrown(() => new SGDScheduleFree(g, { w: new Float64Array(3) as never }));
    expect(f64.code).toBe('INVALID_PARAMS');
    expect(f64.message).toMatch(
      /parameter "w" is a Float64Array; gpu.js computes in float32: pass a Float32Array/,
    );
    const fakeTexture = { output: [3], type: 'NumberTexture', toArray() {}, delete() {}, clone() {} };
    const texture = thrown(() => new SGDScheduleFree(g, { w: fakeTexture as never }));
    expect(texture.message).toMatch(
      /parameter "w" cannot be used: .*webasm mode, where tensors are Float32Arrays/,
    );
    expect(thrown(() => new SGDScheduleFree(g, { w: new Float32Array(0) })).message).toMatch(
      /"w" has no elements/,
    );
    const wrapped = { value: new Float64Array(4), size: [2, 2] };
    expect(thrown(() => new SGDScheduleFree(g, { w: wrapped as never })).message).toMatch(
      /"w" is an input\(\) over a Float64Array/,
    );
  });

  it('rejects GPU instances and settings it cannot run', () => {
    const w = new Float32Array(2);
    expect(thrown(() => new SGDScheduleFree({} as never, { w })).message).toMatch(/gpu.js GPU instance/);
    expect(thrown(() => new SGDScheduleFree(new GPU({ mode: 'dev' }), { w })).message).toMatch(/"dev" mode/);
    const map = thrown(() => new SGDScheduleFree(gpu(), { w }, { kernelStyle: 'map' }));
    expect(map.message).toMatch(
      /kernel maps are not available in webasm mode \(gpu.js would silently fall back to cpu\)/,
    );
    expect(thrown(() => new SGDScheduleFree(gpu(), { w }, { lr: -1 })).message).toMatch(/"lr"/);
    const style = thrown(() => new SGDScheduleFree(gpu(), { w }, { kernelStyle: 'fused' as never }));
    expect(style.code).toBe('INVALID_OPTION');
    expect(style.message).toMatch(/option "kernelStyle" must be 'map', 'single' or 'rows', got "fused"/);
  });

  it('rejects bad gradients before touching anything', async () => {
    const w = values(6, 1);
    const opt = new AdamWScheduleFree(gpu(), { w }, { lr: 0.1 });
    expect((await rejection(opt.step({ w: values(6, 2) }))).code).toBe('WRONG_MODE');
    await opt.train();
    await opt.step({ w: values(6, 2) });
    const before = { w: w.slice(), state: await opt.stateDict() };
    const cases: Array<[unknown, string, RegExp]> = [
      [{ w: new Float64Array(6) }, 'DTYPE_MISMATCH', /gradient "w" is a Float64Array/],
      [{ w: values(5, 3) }, 'SHAPE_MISMATCH', /gradient "w" has 5 elements but the parameter has 6/],
      [{ v: values(6, 3) }, 'UNKNOWN_PARAM', /gradient "v" does not match any parameter/],
      [{}, 'MISSING_GRAD', /no gradient for parameter "w"/],
      [{ w: Float32Array.of(0, 0, Number.NaN, 0, 0, 0) }, 'NON_FINITE_GRAD', /"w" contains NaN/],
      [values(6, 3), 'MISSING_GRAD', /expected a record of gradients/],
    ];
    for (const [grads, code, message] of cases) {
      const error = await rejection(opt.step(grads as never));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
    expect(w).toEqual(before.w);
    expect(await opt.stateDict()).toEqual(before.state);
  });

  it('lets go of the kernels of a lerp pattern no group runs any more', async () => {
    const n = 70_000; // large enough that a kernel nobody uses is destroyed, not kept for reuse
    const g = gpu();
    const destroyed: string[] = [];
    const built = vi.spyOn(g, 'createKernel');
    // One kernel per output, so that the kernel both patterns share can be told from the others.
    const opt = await new SGDScheduleFree(
      g,
      { a: values(n, 1), b: values(n, 2) },
      { lr: 0.1, kernelStyle: 'single' },
    ).train();
    const watch = () => {
      built.mock.results.forEach((r, i) => {
        const k = r.value as { destroy(): void; watched?: boolean };
        if (k.watched) return;
        k.watched = true;
        const original = k.destroy.bind(k);
        k.destroy = () => {
          destroyed.push(String(built.mock.calls[i][0]));
          original();
        };
      });
    };
    const grads = (s: number) => ({ a: values(n, 10 + s), b: values(n, 20 + s) });
    await opt.step(grads(0)); // c = 1
    await opt.step(grads(1)); // c = ½: the same branch
    watch();
    expect(destroyed).toEqual([]);
    // c = ⅓: the other branch. The kernel of y (which takes 1 − c) goes; the kernel of z, the same
    // source under both patterns, is one shared kernel and stays.
    await opt.step(grads(2));
    watch();
    expect(destroyed).toHaveLength(1);
    expect(destroyed[0]).toMatch(/om_c/);
    for (let s = 3; s < 6; s++) await opt.step(grads(s));
    expect(destroyed).toHaveLength(1); // both parameters run the kernels of the pattern in use
    await opt.dispose();
    expect(destroyed).toHaveLength(3);
    expect(destroyed.slice(1).some((source) => /s_c\b/.test(source))).toBe(true);
  });

  it('refuses use after dispose, freeing the kernels and leaving the parameters to the user', async () => {
    const n = 70_000; // large kernels are destroyed with their last optimizer (small ones are kept for reuse)
    const w = values(n, 1);
    const g = gpu();
    const opt = await new SGDScheduleFree(g, { w }, { lr: 0.1 }).train();
    await opt.step({ w: values(n, 2) });
    const destroyed = vi.fn();
    const kernels = (g as unknown as { kernels: Array<{ destroy(): void }> }).kernels;
    for (const k of kernels) {
      const original = k.destroy.bind(k);
      k.destroy = () => {
        destroyed();
        original();
      };
    }
    opt.dispose();
    expect(destroyed).toHaveBeenCalled();
    expect((await rejection(opt.step({ w: values(n, 2) }))).code).toBe('DISPOSED');
    expect((await rejection(opt.stateDict())).code).toBe('DISPOSED');
    expect(opt.isDisposed).toBe(true);
    expect(w.every(Number.isFinite)).toBe(true);
  });
});
