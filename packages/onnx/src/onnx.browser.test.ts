import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import * as core from '@schedulefree/core';
import * as ort from 'onnxruntime-web/webgpu';
import { describe, expect, it } from 'vitest';
import { onnxReplayBackend } from './conformance.js';
import {
  AdamWScheduleFree,
  AdamWScheduleFreeClosure,
  encodeModel,
  type OrtTensor,
  SGDScheduleFree,
} from './index.js';

// One wasm thread: the test page is not cross-origin isolated, so threads are unavailable anyway.
ort.env.wasm.numThreads = 1;

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');
// See onnx.conformance.test.ts.
const skip = {
  'wrapper-adam-frozen': 'a parameter without a gradient in a flat group with per-parameter counters',
};
// The wasm provider already runs every random case and the bad-input matrix in Node (the same
// engine and graphs); here both providers replay the golden cases.
defineConformanceSuite(
  await onnxReplayBackend('onnx-wasm (browser)', ort, { executionProviders: ['wasm'] }),
  { describe, it },
  { reference, randomCases: 0, skip, badInputMatrix: false },
);
defineConformanceSuite(
  await onnxReplayBackend('onnx-webgpu', ort, { executionProviders: ['webgpu'] }),
  { describe, it },
  { reference, randomCases: 9, skip, badInputMatrix: false },
);

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Uploads host data into 'gpu-buffer' tensors with a one-node session (what a model's outputs would be). */
async function onGpu(record: Record<string, Float32Array>): Promise<Record<string, OrtTensor>> {
  const out: Record<string, OrtTensor> = {};
  for (const [name, data] of Object.entries(record)) {
    const model = encodeModel({
      irVersion: 8,
      opset: 17,
      producerName: 'test',
      producerVersion: '0',
      graph: {
        name: 'upload',
        nodes: [{ op: 'Identity', inputs: ['a'], outputs: ['b'] }],
        inputs: [{ name: 'a', type: 'float32', shape: [data.length] }],
        outputs: [{ name: 'b', type: 'float32', shape: [data.length] }],
        initializers: [],
      },
    });
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
    });
    out[name] = (await session.run({ a: new ort.Tensor('float32', data, [data.length]) })).b as OrtTensor;
  }
  return out;
}

async function host(record: Record<string, OrtTensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(record)) out[k] = Array.from((await t.getData()) as Float32Array);
  return out;
}

function expectClose(got: Record<string, ArrayLike<number>>, want: Record<string, ArrayLike<number>>) {
  for (const [k, w] of Object.entries(want)) {
    expect(got[k].length).toBe(w.length);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(got[k][i] - w[i])).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(w[i])));
  }
}

describe('WebGPU residency (IO binding)', () => {
  const options = { lr: 0.05, weightDecay: 0.01, executionProviders: ['webgpu'] };
  const start = () => ({ w: values(12, 1), b: values(5, 2) });
  const grads = (i: number) => ({ w: values(12, 10 + i), b: values(5, 20 + i) });

  it('keeps parameters and state on the GPU, frees replaced buffers, and matches the core', async () => {
    const opt = await AdamWScheduleFree.create(ort, start(), options);
    expect(opt.stateLocation).toBe('gpu-buffer');
    const ref = new core.AdamWScheduleFree(start(), { lr: 0.05, weightDecay: 0.01 }).train();
    await opt.train();
    let previous: OrtTensor | null = null;
    for (let i = 0; i < 4; i++) {
      await opt.step(await onGpu(grads(i)));
      ref.step(grads(i));
      const current = opt.flatParams();
      expect(current.location).toBe('gpu-buffer');
      if (previous) expect(previous.location).toBe('none');
      previous = current;
    }
    const params = await opt.params();
    expect(params.w.location).toBe('gpu-buffer');
    expect(params.w.dims).toEqual([12]);
    expectClose(await host(params), ref.params);
    const x = await opt.evalParams();
    expectClose(await host(x), ref.evalParams());
    for (const t of Object.values(x)) t.dispose();
    expectClose(await host(await opt.params()), ref.params);
    const saved = await opt.stateDict();
    expectClose({ z: saved.state.w.z }, { z: Array.from(ref.stateDict().state.w.z) });
    await opt.dispose();
    expect(opt.flatParams).toThrow();
  });

  it('checks device gradients for NaN in the graph and changes nothing', async () => {
    const opt = await SGDScheduleFree.create(ort, start(), { lr: 0.5, executionProviders: ['webgpu'] });
    await opt.train();
    await opt.step(await onGpu(grads(0)));
    const before = await host(await opt.params());
    const bad = grads(1);
    bad.b[2] = Number.NaN;
    await expect(opt.step(await onGpu(bad))).rejects.toThrow(/NaN or Infinity; nothing was changed/);
    expect(await host(await opt.params())).toEqual(before);
    expect(opt.groupState().k).toBe(1);
    await opt.dispose();
  });

  it('hands out per-parameter GPU tensors of a multi-parameter group without a read-back', async () => {
    const opt = await SGDScheduleFree.create(
      ort,
      { w: new ort.Tensor('float32', values(12, 1), [3, 4]), b: values(5, 2) },
      { lr: 0.5, executionProviders: ['webgpu'] },
    );
    const ref = new core.SGDScheduleFree(start(), { lr: 0.5 }).train();
    await opt.train();
    await opt.step(grads(0));
    ref.step(grads(0));
    const params = await opt.params();
    expect(params.w.dims).toEqual([3, 4]);
    expect(params.b.location).toBe('gpu-buffer');
    expectClose(await host(params), ref.params);
    await opt.dispose();
  });

  it('evalParams in eval mode shares the device buffers: disposing the copies leaves the optimizer intact', async () => {
    const opt = await AdamWScheduleFree.create(ort, start(), options);
    const ref = new core.AdamWScheduleFree(start(), { lr: 0.05, weightDecay: 0.01 }).train();
    await opt.train();
    for (let i = 0; i < 2; i++) {
      await opt.step(await onGpu(grads(i)));
      ref.step(grads(i));
    }
    await opt.eval();
    ref.eval();
    const x = await opt.evalParams();
    expect(x.w.location).toBe('gpu-buffer');
    expectClose(await host(x), ref.params);
    for (const t of Object.values(x)) t.dispose();
    expectClose(await host(await opt.params()), ref.params);
    await opt.train();
    ref.train();
    await opt.step(await onGpu(grads(2)));
    ref.step(grads(2));
    expectClose(await host(await opt.params()), ref.params);
    await opt.dispose();
  });

  it('gives a closure the parameters at y on the GPU, with their dimensions', async () => {
    const opt = await AdamWScheduleFreeClosure.create(
      ort,
      { w: new ort.Tensor('float32', values(12, 1), [3, 4]), b: values(5, 2) },
      options,
    );
    const ref = new core.AdamWScheduleFreeClosure(start(), { lr: 0.05, weightDecay: 0.01 });
    for (let i = 0; i < 3; i++) {
      let seen: Record<string, number[]> = {};
      let dims: readonly number[] = [];
      let wanted: Record<string, number[]> = {};
      await opt.step(async (params) => {
        // Parameters move to the GPU with the first step's outputs.
        if (i > 0) expect(params.w.location).toBe('gpu-buffer');
        dims = params.w.dims;
        seen = await host(params);
        return grads(i);
      });
      ref.step(() => {
        wanted = { w: Array.from(ref.params.w), b: Array.from(ref.params.b) };
        return grads(i);
      });
      expect(dims).toEqual([3, 4]);
      expectClose(seen, wanted);
    }
    expectClose(await host(await opt.params()), ref.params);
    await opt.dispose();
  });

  it('keeps a parameter without a gradient exactly on the GPU, in a group with others', async () => {
    const opt = await AdamWScheduleFree.create(ort, start(), options);
    const ref = new core.AdamWScheduleFree(start(), { lr: 0.05, weightDecay: 0.01 }).train();
    await opt.train();
    await opt.step(await onGpu(grads(0)));
    ref.step(grads(0));
    const before = { params: await host(await opt.params()), state: (await opt.stateDict()).state };
    await opt.step({ w: (await onGpu(grads(1))).w, b: null });
    ref.step({ w: grads(1).w, b: null });
    const params = await opt.params();
    expect(params.w.location).toBe('gpu-buffer');
    const after = { params: await host(params), state: (await opt.stateDict()).state };
    expect(after.params.b).toEqual(before.params.b);
    expect(after.state.b).toEqual(before.state.b);
    expectClose(after.params, ref.params);
    await opt.dispose();
  });

  it('the exported step gives the same result on the wasm and WebGPU providers', async () => {
    const opt = await AdamWScheduleFree.create(ort, start(), { lr: 0.05, executionProviders: ['wasm'] });
    await opt.train();
    await opt.step(grads(0));
    const exported = opt.exportStep();
    const state = await opt.stateDict();
    const y = await opt.params();
    const flat = (w: ArrayLike<number>, b: ArrayLike<number>) =>
      Float32Array.from([...Array.from(w), ...Array.from(b)]);
    const tensors: Record<string, Float32Array> = {
      param: flat(y.w.data as Float32Array, y.b.data as Float32Array),
      grad: flat(grads(1).w, grads(1).b),
      z: flat(state.state.w.z, state.state.b.z),
      v: flat(state.state.w.v, state.state.b.v),
    };
    const results: Array<Record<string, number[]>> = [];
    for (const ep of ['wasm', 'webgpu']) {
      const session = await ort.InferenceSession.create(exported.bytes, { executionProviders: [ep] });
      const feeds: Record<string, OrtTensor> = {};
      for (const p of exported.inputs) {
        feeds[p.name] =
          p.kind === 'scalar'
            ? new ort.Tensor('float32', Float32Array.of(exported.scalars[p.slot]), [])
            : new ort.Tensor('float32', tensors[p.slot], [17]);
      }
      const out = await session.run(feeds);
      results.push(
        await host(Object.fromEntries(exported.outputs.map((p) => [p.slot, out[p.name] as OrtTensor]))),
      );
      await session.release();
    }
    expectClose(results[1], results[0]);
    await opt.step(grads(1));
    const after = await host(await opt.params());
    expect(results[0].param).toEqual([...after.w, ...after.b]);
    await opt.dispose();
  });
});
