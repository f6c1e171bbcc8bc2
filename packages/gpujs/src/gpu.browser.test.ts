import * as core from '@schedulefree/core';
import { GPU, Input } from 'gpu.js';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  AdamCScheduleFreePlusPaper,
  AdamWScheduleFree,
  type GpuJsTensor,
  ScheduleFreeError,
  SGDScheduleFree,
} from './index.js';

type Mode = 'webgl2' | 'webgl' | 'webgpu';
type Kernel = (...args: unknown[]) => unknown;

const X = 5;
const Y = 3; // an odd 5×3 parameter
const N = X * Y;
const input = (data: Float32Array, size: number[]) =>
  new Input(data as unknown as number[], size as [number, number]);

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 2e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(tol + tol * Math.abs(want[i]));
  }
}

/** Counts read-backs from the GPU: readPixels on WebGL, mapAsync on WebGPU. */
function countReadBacks(gpu: GPU, mode: Mode): { count(): number } {
  if (mode === 'webgpu') {
    const { GPUBuffer } = globalThis as unknown as {
      GPUBuffer: { prototype: { mapAsync(): Promise<void> } };
    };
    const spy = vi.spyOn(GPUBuffer.prototype, 'mapAsync');
    return { count: () => spy.mock.calls.length };
  }
  const gl = (gpu as unknown as { context: WebGLRenderingContext }).context;
  const spy = vi.spyOn(gl, 'readPixels');
  return { count: () => spy.mock.calls.length };
}

/** Counts textures created (WebGL only). */
function countTextureAllocations(gpu: GPU, mode: Mode): { count(): number; reset(): void } {
  if (mode === 'webgpu') return { count: () => 0, reset: () => {} };
  const gl = (gpu as unknown as { context: WebGLRenderingContext }).context;
  const spy = vi.spyOn(gl, 'createTexture');
  return { count: () => spy.mock.calls.length, reset: () => spy.mockClear() };
}

const gpus: GPU[] = [];
afterAll(async () => {
  for (const g of gpus) await g.destroy();
});

for (const mode of ['webgl2', 'webgl', 'webgpu'] as const) {
  describe(`gpu.js optimizers in ${mode} mode`, () => {
    const gpu = new GPU({ mode });
    gpus.push(gpu);
    const deviceKernel = (source: string) =>
      gpu.createKernel(source, {
        output: [X, Y],
        pipeline: true,
        immutable: true,
        precision: 'single',
      }) as unknown as Kernel;
    // The gradient of ½‖w − t‖², computed on the GPU from the optimizer's current parameters.
    const gradKernel = deviceKernel(
      'function (w, t) { return w[this.thread.y][this.thread.x] - t[this.thread.y][this.thread.x]; }',
    );
    const initKernel = deviceKernel('function (a) { return a[this.thread.y][this.thread.x]; }');

    it('keeps parameters and state on the GPU between steps, with no read-back, and matches the core', async () => {
      const start = values(N, 1);
      const target = values(N, 2);
      const options = { lr: 0.05, weightDecay: 0.01, warmupSteps: 2 };
      const maps = vi.spyOn(gpu, 'createKernelMap');
      const param = await initKernel(input(start, [X, Y]));
      const opt = await new AdamWScheduleFree(gpu, { w: param as never }, options).train();
      const reference = { w: start.slice() };
      const ref = new core.AdamWScheduleFree(reference, options).train();
      await opt.ready();
      const readBacks = countReadBacks(gpu, mode);
      const created = countTextureAllocations(gpu, mode);
      const runs = new Map<string, number>();
      let steady = 0;
      for (let step = 0; step < 9; step++) {
        // The lerp branches of this step, as the core decides them: each pattern has its kernels.
        const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
        const pattern = core.lerpPattern(core.graphOf(plan.program), plan.scalars);
        created.reset();
        const grad = (await gradKernel(opt.params.w, input(target, [X, Y]))) as { delete(): void };
        await opt.step({ w: grad as GpuJsTensor });
        grad.delete();
        ref.step({ w: Float32Array.from(reference.w, (v, i) => v - target[i]) });
        // WebGL: once a kernel map has run twice, gpu.js swaps each output with the texture the
        // step released: nothing is allocated.
        const run = (runs.get(pattern) ?? 0) + 1;
        runs.set(pattern, run);
        if (run > 2 && mode !== 'webgpu') {
          expect(created.count()).toBe(0);
          steady++;
        }
      }
      expect(readBacks.count()).toBe(0);
      // c = 1 at first, then below ½ from the third step: the two branches of the averaging lerp.
      expect([...runs.values()]).toEqual([2, 7]);
      if (mode !== 'webgpu') expect(steady).toBe(5);
      // WebGL: y, z and v come out of one kernel map per step, one built per lerp pattern (WebGPU
      // has none: one kernel per output).
      expect(maps.mock.calls.length).toBe(mode === 'webgpu' ? 0 : runs.size);
      const w = opt.params.w as unknown as { output: number[] };
      expect(Array.from(w.output)).toEqual([X, Y]);
      expect([...opt.kernelModes]).toEqual([mode]);
      expectClose((await opt.readParams()).w, reference.w);
      expectClose((await opt.evalParams()).w, ref.evalParams().w);
      const state = await opt.stateDict();
      expectClose(state.state.w.z, ref.stateDict().state.w.z);
      await opt.eval();
      expectClose((await opt.readParams()).w, ref.evalParams().w);
      opt.dispose();
    });

    it('runs ScheduleFree+ on a shaped parameter with one read-back of the partial sums per step', async () => {
      const start = values(N, 4);
      const target = values(N, 5);
      const options = { lr: 0.5, weightDecay: 10, polyakBeta: 0.5 };
      const param = await initKernel(input(start, [X, Y]));
      const opt = await new AdamCScheduleFreePlusPaper(gpu, { w: param as never }, options).train();
      const reference = { w: start.slice() };
      const ref = new core.AdamCScheduleFreePlusPaper(reference, options).train();
      await opt.ready();
      const readBacks = countReadBacks(gpu, mode);
      const counts: number[] = [];
      // (A spy made by an earlier test goes on counting: count from here.)
      const before = readBacks.count();
      for (let step = 0; step < 5; step++) {
        const grad = (await gradKernel(opt.params.w, input(target, [X, Y]))) as { delete(): void };
        const loss = 1 / (step + 1);
        await opt.step({ w: grad as GpuJsTensor }, { loss });
        grad.delete();
        ref.step({ w: Float32Array.from(reference.w, (v, i) => v - target[i]) }, { loss });
        counts.push(readBacks.count() - before);
      }
      // The partial sums of Σ|g| and Σ g·(z − x), and nothing else.
      expect(counts).toEqual([1, 2, 3, 4, 5]);
      expect(opt.groupState(0).scheduledLr).toBeGreaterThan(0);
      expect([...opt.kernelModes]).toEqual([mode]);
      expectClose((await opt.readParams()).w, reference.w);
      expectClose((await opt.evalParams()).w, ref.evalParams().w);
      await opt.dispose();
    });

    it('takes host parameters and gradients too, uploading them', async () => {
      const w = values(N, 3);
      const reference = { w: w.slice() };
      const opt = await new SGDScheduleFree(gpu, { w: input(w, [X, Y]) }, { lr: 0.2 }).train();
      const ref = new core.SGDScheduleFree(reference, { lr: 0.2 }).train();
      for (let step = 0; step < 4; step++) {
        await opt.step({ w: values(N, 10 + step) });
        ref.step({ w: values(N, 10 + step) });
      }
      expectClose((await opt.readParams()).w, reference.w);
      expect(Array.from(w)).toEqual(Array.from(values(N, 3))); // the host array was only the start
      opt.dispose();
    });

    it('saves and restores the state through the host, continuing the same trajectory', async () => {
      const options = { lr: 0.05, weightDecay: 0.01 };
      const opt = await new AdamWScheduleFree(gpu, { w: input(values(N, 11), [X, Y]) }, options).train();
      for (let step = 0; step < 3; step++) await opt.step({ w: values(N, 40 + step) });
      const saved = JSON.parse(JSON.stringify(await opt.stateDict()));
      const resumed = new AdamWScheduleFree(gpu, { w: input((await opt.readParams()).w, [X, Y]) }, options);
      await resumed.loadStateDict(saved);
      expect(resumed.mode).toBe('train');
      for (let step = 3; step < 5; step++) {
        await opt.step({ w: values(N, 40 + step) });
        await resumed.step({ w: values(N, 40 + step) });
      }
      expect((await resumed.readParams()).w).toEqual((await opt.readParams()).w);
      expect((await resumed.stateDict()).state).toEqual((await opt.stateDict()).state);
      opt.dispose();
      resumed.dispose();
    });

    it('applies un-awaited calls in call order, with the lr and gradient contents of each call', async () => {
      const lrs = [0.1, 0.02, 0.3];
      const make = () =>
        new AdamWScheduleFree(gpu, { w: input(values(N, 21), [X, Y]) }, { lr: 0.1, warmupSteps: 2 });
      const awaited = await make().train();
      for (const [s, lr] of lrs.entries()) {
        awaited.paramGroups[0].lr = lr;
        await awaited.step({ w: values(N, 50 + s) });
      }
      const queued = make();
      const calls: Promise<unknown>[] = [queued.train()];
      for (const [s, lr] of lrs.entries()) {
        queued.paramGroups[0].lr = lr;
        const grad = values(N, 50 + s);
        calls.push(queued.step({ w: grad }));
        grad.fill(Number.NaN); // refilled after the call: the step keeps what it was given
      }
      const disposed = queued.dispose(); // calls made before dispose() still take effect
      const results = await Promise.all(calls);
      expect(results.slice(1)).toEqual([true, true, true]);
      await disposed;
      expect(
        (await queued.readParams().catch((e: ScheduleFreeError) => e)) as ScheduleFreeError,
      ).toMatchObject({
        code: 'DISPOSED',
      });
      // The queued optimizer's parameter textures outlive it (they are the user's now).
      const w = queued.params.w as unknown as { toArray(): unknown };
      const got = await w.toArray();
      const want = (await awaited.readParams()).w;
      expect(Float32Array.from((got as Float32Array[]).flatMap((row) => Array.from(row)))).toEqual(want);
      awaited.dispose();
    });

    it('checks GPU gradients for NaN when asked, changing nothing', async () => {
      const opt = await new SGDScheduleFree(
        gpu,
        { w: input(values(N, 4), [X, Y]) },
        { lr: 0.2, checkDeviceGradients: true },
      ).train();
      await opt.step({ w: values(N, 5) });
      const before = await opt.readParams();
      const bad = values(N, 6);
      bad[7] = Number.NaN;
      const grad = await initKernel(input(bad, [X, Y]));
      const error = await opt.step({ w: grad as GpuJsTensor }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScheduleFreeError);
      expect((error as ScheduleFreeError).code).toBe('NON_FINITE_GRAD');
      expect((await opt.readParams()).w).toEqual(before.w);
      opt.dispose();
    });

    it('rejects a gradient of another shape by name', async () => {
      const opt = await new SGDScheduleFree(gpu, { w: input(values(N, 4), [X, Y]) }).train();
      const transposed = gpu.createKernel('function () { return 1; }', {
        output: [Y, X],
        pipeline: true,
        precision: 'single',
      }) as unknown as Kernel;
      const error = await opt.step({ w: (await transposed()) as GpuJsTensor }).catch((e: unknown) => e);
      expect((error as ScheduleFreeError).code).toBe('SHAPE_MISMATCH');
      expect((error as Error).message).toMatch(
        /gradient "w" has shape \[3, 5\] but the parameter has \[5, 3\]/,
      );
      opt.dispose();
    });

    if (mode !== 'webgpu') {
      it('rejects a parameter larger than one texture, naming it', () => {
        const max = Number(
          (gpu as unknown as { Kernel: { features: { maxTextureSize: number } } }).Kernel.features
            .maxTextureSize,
        );
        const wide = new Float32Array((max + 1) * 2);
        // One value per texel: a 2-D parameter keeps its shape, one side too long.
        let error: unknown;
        try {
          new SGDScheduleFree(gpu, { wide: input(wide, [max + 1, 2]) }, { optimizeFloatMemory: false });
        } catch (e) {
          error = e;
        }
        expect((error as ScheduleFreeError).code).toBe('INVALID_PARAMS');
        expect((error as Error).message).toMatch(
          new RegExp(`parameter "wide" is too large for one ${mode} tensor: .* needs a ${max + 1}×2 texture`),
        );
        // Flat, it fits a square texture; packed four per texel (the default), it fits as it is.
        new SGDScheduleFree(gpu, { flat: wide }, { optimizeFloatMemory: false }).dispose();
        new SGDScheduleFree(gpu, { wide: input(wide, [max + 1, 2]) }).dispose();
      });

      it('stores one value per texel when asked, with the same results', async () => {
        const results: Float32Array[] = [];
        for (const optimizeFloatMemory of [true, false]) {
          const opt = await new AdamWScheduleFree(
            gpu,
            { w: input(values(N, 9), [X, Y]) },
            { lr: 0.1, optimizeFloatMemory },
          ).train();
          for (let step = 0; step < 3; step++) await opt.step({ w: values(N, 30 + step) });
          const type = (opt.params.w as unknown as { type: string }).type;
          if (optimizeFloatMemory) expect(type).toBe('MemoryOptimizedNumberTexture');
          else expect(type).not.toBe('MemoryOptimizedNumberTexture');
          results.push((await opt.readParams()).w);
          opt.dispose();
        }
        expectClose(results[0], results[1]);
      });
    }
  });
}
