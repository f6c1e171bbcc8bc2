import { graphOf, interpret, planFor, TypedArrayOps } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tfjsReplayBackend } from '../conformance.js';
import { AdamWScheduleFree } from '../index.js';
import { defineTfjsConformance } from '../test-support/conformance-suite.js';
import { expectClose, inputs, programs, scalars } from '../test-support/kernel-cases.js';
import { runWebgpuInPlace, webgpuFusedUnavailable } from './webgpu-fused.js';

// The fused webgpu path in headless Chromium (WebGPU on SwiftShader: correctness, not speed).
import '@tensorflow/tfjs-backend-webgpu';

const values = async (t: tf.Tensor) => (await t.data()) as Float32Array;

/** Counts the GPU work tfjs and this package record: tfjs programs, and compute dispatches of any kind. */
function countGpuWork() {
  const backend = tf.backend() as unknown as { runWebGPUProgram: (...args: unknown[]) => unknown };
  const pass = (globalThis as unknown as { GPUComputePassEncoder: { prototype: Record<string, unknown> } })
    .GPUComputePassEncoder.prototype;
  const counts = { programs: 0, dispatches: 0 };
  const run = backend.runWebGPUProgram;
  const dispatch = pass.dispatchWorkgroups as (...args: unknown[]) => void;
  backend.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
    counts.programs++;
    return run.apply(this, args);
  };
  pass.dispatchWorkgroups = function (this: unknown, ...args: unknown[]) {
    counts.dispatches++;
    return dispatch.apply(this, args);
  };
  const restore = () => {
    backend.runWebGPUProgram = run;
    pass.dispatchWorkgroups = dispatch;
  };
  return { counts, restore };
}

const gradientsOf = (vars: tf.Variable[], seed: number) =>
  Object.fromEntries(
    vars.map((v, k) => [
      v.name,
      tf.tensor(
        Float32Array.from({ length: v.size }, (_, i) => Math.sin(seed + 0.37 * i + k)),
        v.shape,
      ),
    ]),
  );

describe('tfjs-webgpu: the fused in-place path', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('webgpu')).toBe(true);
  });
  afterEach(async () => {
    await tf.setBackend('webgpu');
  });

  it('is available on the webgpu backend, and says why not elsewhere', async () => {
    expect(webgpuFusedUnavailable()).toBe(null);
    await tf.setBackend('cpu');
    expect(webgpuFusedUnavailable()).toMatch(/cpu, not webgpu/);
    expect(runWebgpuInPlace(graphOf(programs[0]), scalars(programs[0], false), [])).toBe(false);
  });

  it('every program, both lerp branches, several members in one run: the IR interpreter in float32, in place', async () => {
    const ops = new TypedArrayOps();
    const sizes = [1, 5, 300, 70_001];
    for (const program of programs) {
      const graph = graphOf(program);
      for (const large of [false, true]) {
        const s = scalars(program, large);
        const hosts = sizes.map((n) => {
          const host = inputs(program, n);
          host.param ??= Float32Array.from({ length: n }, (_, i) => i);
          return host;
        });
        const members = hosts.map((host) => ({
          slots: Object.fromEntries(
            Object.entries(host).map(([k, v]) => [k, tf.tidy(() => tf.variable(tf.tensor1d(v)))]),
          ),
        }));
        const before = tf.memory().numTensors;
        expect(runWebgpuInPlace(graph, s, members), program.key).toBe(true);
        expect(tf.memory().numTensors).toBe(before);
        const { stores } = planFor(graph, s);
        for (const [k, host] of hosts.entries()) {
          const want = interpret(graph, ops, host, s);
          for (const [name, t] of Object.entries(members[k].slots)) {
            const got = await values(t);
            const what = `${program.key}${large ? ' (large weights)' : ''} n=${sizes[k]} ${name}`;
            if (stores.includes(name)) expectClose(got, want[name] as Float32Array, what);
            else
              expect(Array.from(got), `${what} is not an output and must not change`).toEqual(
                Array.from(host[name]),
              );
          }
        }
        for (const { slots } of members) tf.dispose(Object.values(slots));
      }
    }
  });

  it('a tensor above 65535 workgroups (2-D dispatch) is updated to its last element', async () => {
    const program = programs.find((p) => p.key.startsWith('sf-fused:vn:wd'))!;
    const graph = graphOf(program);
    const n = 65_535 * 64 + 77;
    const host = inputs(program, n);
    const s = scalars(program, false);
    const slots = Object.fromEntries(
      Object.entries(host).map(([k, v]) => [k, tf.tidy(() => tf.variable(tf.tensor1d(v)))]),
    );
    expect(runWebgpuInPlace(graph, s, [{ slots }])).toBe(true);
    const want = interpret(graph, new TypedArrayOps(), host, s);
    for (const name of planFor(graph, s).stores)
      expectClose(await values(slots[name]), want[name] as Float32Array, name);
    tf.dispose(Object.values(slots));
  });

  it("an optimizer's step is one dispatch per variable, no tfjs program, and allocates nothing after warm-up", async () => {
    const vars = [
      tf.variable(tf.randomNormal([64, 32], 0, 1, 'float32', 1), true, `fused-a-${Date.now()}`),
      tf.variable(tf.randomNormal([32], 0, 1, 'float32', 2), true, `fused-b-${Date.now()}`),
      tf.variable(tf.randomNormal([1000], 0, 1, 'float32', 3), true, `fused-c-${Date.now()}`),
    ];
    const grads = gradientsOf(vars, 1);
    const opt = new AdamWScheduleFree({ lr: 0.01, warmupSteps: 5, checkFinite: false }).train();
    opt.applyGradients(grads);
    opt.applyGradients(grads);
    await values(vars[0]);
    const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    const [tensors, bytes] = [memory.numTensors, memory.numBytesInGPU];
    const { counts, restore } = countGpuWork();
    try {
      for (let step = 0; step < 50; step++) opt.applyGradients(grads);
    } finally {
      restore();
    }
    await values(vars[0]);
    const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    expect(counts).toEqual({ programs: 0, dispatches: 50 * vars.length });
    expect(after.numTensors).toBe(tensors);
    expect(after.numBytesInGPU).toBe(bytes);
    expect(opt.groupState().k).toBe(52);
    opt.dispose();
    tf.dispose([...vars, ...Object.values(grads)]);
  });

  it("kernels: 'ops' runs the op chain (a tfjs program per op) and takes the same steps in float32", async () => {
    const run = async (kernels: 'fused' | 'ops') => {
      const w = tf.variable(
        tf.tensor1d(Float32Array.from({ length: 500 }, (_, i) => Math.cos(i))),
        true,
        `w-${kernels}-${Date.now()}`,
      );
      const opt = new AdamWScheduleFree({
        lr: 0.05,
        warmupSteps: 3,
        weightDecay: 0.01,
        kernels,
        checkFinite: false,
      });
      const step = (seed: number) => {
        const grads = gradientsOf([w], seed);
        opt.train().applyGradients(grads);
        tf.dispose(Object.values(grads));
      };
      // The first step runs the op chain either way: the state starts as a clone sharing x's storage.
      step(0);
      const { counts, restore } = countGpuWork();
      try {
        for (let k = 1; k < 20; k++) step(k);
      } finally {
        restore();
      }
      const x = await values(w);
      opt.dispose();
      w.dispose();
      return { x, counts };
    };
    const [fused, ops] = [await run('fused'), await run('ops')];
    expect(fused.counts).toEqual({ programs: 0, dispatches: 19 });
    expect(ops.counts.programs).toBeGreaterThan(10 * 19);
    expect(Math.abs(fused.x[0] - Math.cos(0))).toBeGreaterThan(0.01);
    fused.x.forEach((v, i) => {
      expect(Math.abs(v - ops.x[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ops.x[i])));
    });
  });

  /** A trained variable and its optimizer, past the first step (which always runs the op chain). */
  const warmedUp = async (name: string) => {
    const w = tf.variable(tf.tensor1d([1, -2, 3, 0.5]), true, `${name}-${Date.now()}`);
    const opt = new AdamWScheduleFree({ lr: 0.1, checkFinite: false }).train();
    const grads = { [w.name]: tf.tensor1d([0.5, -1, 0.25, 2]) };
    opt.applyGradients(grads);
    const { counts, restore } = countGpuWork();
    try {
      opt.applyGradients(grads);
    } finally {
      restore();
    }
    expect(counts).toEqual({ programs: 0, dispatches: 1 });
    const done = () => {
      opt.dispose();
      tf.dispose([w, ...Object.values(grads)]);
    };
    return { w, opt, step: () => opt.applyGradients(grads), done };
  };

  it('falls back to the op chain for a step whose written buffer is shared, leaving the sharer untouched', async () => {
    const { w, step, done } = await warmedUp('shared');
    const before = Array.from(await values(w));
    const snapshot = w.clone(); // shares w's storage
    const { counts, restore } = countGpuWork();
    try {
      step();
      const first = { ...counts };
      expect(first.programs).toBeGreaterThan(5);
      step(); // w owns a new buffer again: one dispatch
      expect(counts.programs).toBe(first.programs);
      expect(counts.dispatches).toBe(first.dispatches + 1);
    } finally {
      restore();
    }
    expect(Array.from(await values(snapshot))).toEqual(before);
    expect(Array.from(await values(w))).not.toEqual(before);
    snapshot.dispose();
    done();
  });

  it('falls back to the op chain when the device allows fewer storage buffers than the kernel binds', async () => {
    const { w, step, done } = await warmedUp('lacking');
    const device = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device;
    const limits = device.limits;
    // A device with the default limits but only 3 storage buffers per stage (AdamW binds 4).
    const fewer = new Proxy(limits, {
      get: (target, key) => (key === 'maxStorageBuffersPerShaderStage' ? 3 : target[key as string]),
    });
    Object.defineProperty(device, 'limits', { value: fewer, configurable: true });
    const { counts, restore } = countGpuWork();
    const before = Array.from(await values(w));
    try {
      step();
      expect(counts.programs).toBeGreaterThan(5);
    } finally {
      restore();
      delete (device as { limits?: unknown }).limits;
    }
    expect(device.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    const after = Array.from(await values(w));
    expect(after).not.toEqual(before);
    expect(after.every(Number.isFinite)).toBe(true);
    done();
  });

  it('a read still in flight when a step starts gets the values before the step; later reads get the new ones', async () => {
    const { w, step, done } = await warmedUp('pending-read');
    step(); // drops the host copy: the next read goes to the GPU
    const pending = w.data(); // not awaited: the step below starts while it is in flight
    const { counts, restore } = countGpuWork();
    try {
      step();
    } finally {
      restore();
    }
    expect(counts).toEqual({ programs: 0, dispatches: 1 });
    const between = Array.from((await pending) as Float32Array);
    const after = Array.from(await values(w));
    expect(after).not.toEqual(between);
    // A twin whose reads never overlap a step: the same values at the same points.
    const twin = await warmedUp('pending-read-twin');
    twin.step();
    expect(Array.from(await values(twin.w))).toEqual(between);
    twin.step();
    expect(Array.from(await values(twin.w))).toEqual(after);
    twin.done();
    done();
  });

  it('a read between steps does not leave a stale host copy', async () => {
    const w = tf.variable(tf.tensor1d([1, -2, 3, 0.5]), true, `reread-${Date.now()}`);
    const opt = new AdamWScheduleFree({ lr: 0.1, checkFinite: false }).train();
    const grads = { [w.name]: tf.tensor1d([0.5, -1, 0.25, 2]) };
    opt.applyGradients(grads);
    opt.applyGradients(grads);
    const a = Array.from(await values(w));
    opt.applyGradients(grads);
    const b = Array.from(await values(w));
    expect(b).not.toEqual(a);
    const state = await opt.stateDictAsync();
    opt.applyGradients(grads);
    expect((await opt.stateDictAsync()).state[w.name].z).not.toEqual(state.state[w.name].z);
    opt.dispose();
    tf.dispose([w, ...Object.values(grads)]);
  });
});

// The op chain stays conformant on webgpu too (tfjs.browser.test.ts runs the suite on the fused path).
defineTfjsConformance(tfjsReplayBackend('webgpu', { name: 'tfjs-webgpu-ops', kernels: 'ops' }), 9, 3);
