import * as core from '@schedulefree/core';
import {
  Adam as CoreAdam,
  AdamW as CoreAdamW,
  ScheduleFreeWrapper as CoreWrapper,
} from '@schedulefree/wrapper';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import {
  AdamAlgorithm,
  AdamWAlgorithm,
  AdamWScheduleFree,
  createOptimizer,
  OnnxBaseOptimizer,
  type OrtTensor,
  RAdamScheduleFree,
  ScheduleFreeWrapper,
  SGDScheduleFree,
  SGDScheduleFreeClosure,
} from './index.js';

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const runtimes = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web (wasm)', ortWeb],
] as const;

const shapes = { w: [3, 4], b: [5] } as const;
const initial = () => ({
  w: new ortNode.Tensor('float32', values(12, 1), [3, 4]) as OrtTensor,
  b: values(5, 2),
});
const gradsAt = (step: number) => ({ w: values(12, 100 + step), b: values(5, 200 + step) });

async function host(record: Record<string, OrtTensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(record)) out[k] = Array.from((await t.getData()) as Float32Array);
  return out;
}

/** The core's float32 fused optimizer on the same data: the expected trajectory within rounding. */
function coreTrajectory(steps: number, options: Record<string, unknown>) {
  const params = { w: values(12, 1), b: values(5, 2) };
  const opt = new core.AdamWScheduleFree(params, options).train();
  for (let i = 0; i < steps; i++) opt.step(gradsAt(i));
  return { y: { w: Array.from(params.w), b: Array.from(params.b) }, x: opt.evalParams() };
}

function expectClose(
  got: Record<string, ArrayLike<number>>,
  want: Record<string, ArrayLike<number>>,
  tol = 2e-6,
) {
  for (const [k, w] of Object.entries(want)) {
    expect(got[k].length).toBe(w.length);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(got[k][i] - w[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(w[i])));
  }
}

async function expectCode(promise: Promise<unknown>, code: string, pattern: RegExp) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(core.ScheduleFreeError);
  expect((error as core.ScheduleFreeError).code).toBe(code);
  expect((error as Error).message).toMatch(pattern);
}

describe.each(runtimes)('optimizers on %s', (_name, ort) => {
  const options = { lr: 0.05, weightDecay: 0.01, warmupSteps: 2 };

  it('follows the core float32 trajectory, keeps dimensions, and evalParams changes nothing', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    expect(opt.mode).toBe('eval');
    await opt.train();
    for (let i = 0; i < 5; i++) expect(await opt.step(gradsAt(i))).toBe(true);
    const want = coreTrajectory(5, options);
    const params = await opt.params();
    expect(params.w.dims).toEqual(shapes.w);
    expect(params.b.dims).toEqual(shapes.b);
    expectClose(await host(params), want.y);
    const y = await host(params);
    const x = await host(await opt.evalParams());
    expectClose(x, want.x);
    expect(await host(await opt.params())).toEqual(y);
    expect(opt.groupState().k).toBe(5);
    await opt.eval();
    expectClose(await host(await opt.params()), x);
    await opt.dispose();
  });

  it.runIf(core.wasmSimdSupported())(
    "steps bit for bit like the core's WebAssembly kernel (both read the same kernel plan)",
    async () => {
      for (const [Onnx, Core] of [
        [AdamWScheduleFree, core.AdamWScheduleFree],
        [RAdamScheduleFree, core.RAdamScheduleFree],
        [SGDScheduleFree, core.SGDScheduleFree],
      ] as const) {
        const params = { w: values(1000, 1) };
        const common = { lr: 0.05, weightDecay: 0.01 };
        const ref = new Core(params, { ...common, execution: 'wasm' }).train();
        const opt = await Onnx.create(ort, { w: values(1000, 1) }, common);
        await opt.train();
        // The averaging weight passes 0.5 in the first steps: both lerp branches are taken.
        for (let i = 0; i < 6; i++) {
          const g = { w: values(1000, 10 + i) };
          ref.step(g);
          await opt.step(g);
        }
        expect(Array.from((await opt.params()).w.data as Float32Array)).toEqual(Array.from(params.w));
        expect(Array.from((await opt.evalParams()).w.data as Float32Array)).toEqual(
          Array.from(ref.evalParams().w),
        );
        await opt.dispose();
      }
    },
  );

  it("never writes a step's inputs: each step leaves new parameter tensors", async () => {
    const opt = await SGDScheduleFree.create(ort, { w: values(6, 1) }, { lr: 0.5 });
    await opt.train();
    const buffers: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const before = opt.flatParams();
      const kept = Array.from(before.data as Float32Array);
      await opt.step({ w: values(6, 10 + i) });
      expect(opt.flatParams()).not.toBe(before);
      expect(Array.from(before.data as Float32Array)).toEqual(kept);
      buffers.push(opt.flatParams().data);
    }
    expect(new Set(buffers).size).toBe(buffers.length);
    const ref = new core.SGDScheduleFree({ w: values(6, 1) }, { lr: 0.5 }).train();
    for (let i = 0; i < 4; i++) ref.step({ w: values(6, 10 + i) });
    expectClose(await host(await opt.params()), ref.params);
    await opt.dispose();
  });

  it('keeps a parameter without a gradient (null) and its state exactly, in a group with others', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    const ref = new core.AdamWScheduleFree({ w: values(12, 1), b: values(5, 2) }, options).train();
    await opt.train();
    await opt.step(gradsAt(0));
    ref.step(gradsAt(0));
    const before = { params: await host(await opt.params()), state: (await opt.stateDict()).state };
    expect(await opt.step({ w: gradsAt(1).w, b: null })).toBe(true);
    ref.step({ w: gradsAt(1).w, b: null });
    const after = { params: await host(await opt.params()), state: (await opt.stateDict()).state };
    expect(after.params.b).toEqual(before.params.b);
    expect(after.state.b).toEqual(before.state.b);
    expect(after.params.w).not.toEqual(before.params.w);
    expectClose(after.params, ref.params);
    await opt.dispose();
  });

  it('runs un-awaited calls in call order', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    void opt.train();
    void opt.step(gradsAt(0));
    void opt.step(gradsAt(1));
    const evaluated = opt.eval();
    const x = await host(await opt.params());
    await evaluated;
    expectClose(x, coreTrajectory(2, options).x);
    await opt.dispose();
  });

  it('rejects bad gradients clearly and changes nothing', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    await opt.train();
    await opt.step(gradsAt(0));
    const before = { params: await host(await opt.params()), state: await opt.stateDict() };
    const g = gradsAt(1);
    await expectCode(
      opt.step({ ...g, extra: values(2, 1) }),
      'UNKNOWN_PARAM',
      /"extra".*Parameters are: w, b/,
    );
    await expectCode(opt.step({ w: g.w }), 'MISSING_GRAD', /no gradient for parameter "b"/);
    await expectCode(
      opt.step({ ...g, b: values(4, 1) }),
      'SHAPE_MISMATCH',
      /"b" has 4 elements but the parameter has 5/,
    );
    await expectCode(
      opt.step({ ...g, b: Float64Array.from(g.b) as never }),
      'DTYPE_MISMATCH',
      /"b".*Float64Array.*float32/,
    );
    const ints = new ort.Tensor('int32', new Int32Array(5), [5]);
    await expectCode(opt.step({ ...g, b: ints as never }), 'DTYPE_MISMATCH', /"b".*int32 tensor/);
    const onGpu = { type: 'float32', dims: [5], size: 5, location: 'gpu-buffer', dispose() {} };
    await expectCode(
      opt.step({ ...g, b: onGpu as never }),
      'DTYPE_MISMATCH',
      /"b": it is a 'gpu-buffer' tensor.*webgpu/,
    );
    const nan = g.w.slice();
    nan[3] = Number.NaN;
    await expectCode(
      opt.step({ ...g, w: nan }),
      'NON_FINITE_GRAD',
      /"w" contains NaN or Infinity; nothing was changed/,
    );
    await expectCode(opt.step(null as never), 'MISSING_GRAD', /record of gradients/);
    expect(await host(await opt.params())).toEqual(before.params);
    expect(await opt.stateDict()).toEqual(before.state);
    await opt.dispose();
  });

  it("skips a non-finite step with nonFiniteGrads: 'skip'", async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), { ...options, nonFiniteGrads: 'skip' });
    await opt.train();
    const g = gradsAt(0);
    g.b[1] = Number.POSITIVE_INFINITY;
    expect(await opt.step(g)).toBe(false);
    expect(opt.groupState().k).toBe(0);
    expect(await opt.step(gradsAt(0))).toBe(true);
    expectClose(await host(await opt.params()), coreTrajectory(1, options).y);
    await opt.dispose();
  });

  it('refuses steps in eval mode, bad options and use after dispose', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    await expectCode(opt.step(gradsAt(0)), 'WRONG_MODE', /train\(\)/);
    await expectCode(AdamWScheduleFree.create(ort, initial(), { lr: -1 }), 'INVALID_OPTION', /"lr"/);
    await expectCode(
      AdamWScheduleFree.create(ort, initial(), { lerningRate: 1 } as never),
      'INVALID_OPTION',
      /lerningRate/,
    );
    await expectCode(
      AdamWScheduleFree.create(ort, initial(), { stateLocation: 'gpu-buffer' }),
      'INVALID_OPTION',
      /stateLocation.*webgpu/,
    );
    const plus = await createOptimizer(
      ort,
      core.scheduleFreeAlgorithms.AdamCScheduleFreePlusPaper,
      initial(),
    );
    await plus.train();
    await expectCode(plus.step(gradsAt(0)), 'INVALID_LOSS', /needs the loss/);
    expect(plus.groupState().k).toBe(0);
    await plus.step(gradsAt(0), { loss: 1 });
    expect(plus.groupState().k).toBe(1);
    await plus.dispose();
    await expectCode(
      AdamWScheduleFree.create({} as never, initial()),
      'INVALID_OPTION',
      /ONNX Runtime module/,
    );
    await expectCode(
      AdamWScheduleFree.create(ort, { w: Float64Array.of(1, 2) as never }),
      'INVALID_PARAMS',
      /parameter "w".*Float64Array/,
    );
    expect(
      () => new (AdamWScheduleFree as unknown as new (...a: unknown[]) => unknown)(ort, initial()),
    ).toThrow(/await Class\.create\(ort, params, options\)/);
    await opt.dispose();
    for (const call of [opt.train(), opt.step(gradsAt(0)), opt.params(), opt.evalParams(), opt.stateDict()]) {
      await expectCode(call, 'DISPOSED', /after dispose\(\)/);
    }
    expect(() => opt.groupState()).toThrow(/after dispose/);
  });

  it('says which execution provider failed to create a session, and why', async () => {
    await expectCode(
      AdamWScheduleFree.create(ort, initial(), { executionProviders: ['no-such-provider'] }),
      'UNSUPPORTED',
      /could not create a session on execution provider 'no-such-provider': .+/,
    );
  });

  it('saves and loads state by name, across parameter orders and across backends', async () => {
    const opt = await AdamWScheduleFree.create(ort, initial(), options);
    await opt.train();
    for (let i = 0; i < 3; i++) await opt.step(gradsAt(i));
    const saved = JSON.parse(JSON.stringify(await opt.stateDict()));
    const y = await host(await opt.params());

    // Same parameters listed in the other order, created at the saved y.
    const restored = await AdamWScheduleFree.create(
      ort,
      { b: Float32Array.from(y.b), w: Float32Array.from(y.w) },
      options,
    );
    await restored.loadStateDict(saved);
    expect(restored.mode).toBe('train');
    // The core optimizer takes the same state.
    const coreParams = { w: Float32Array.from(y.w), b: Float32Array.from(y.b) };
    const coreOpt = new core.AdamWScheduleFree(coreParams, options);
    coreOpt.loadStateDict(saved);
    for (const o of [opt, restored]) await o.step(gradsAt(3));
    coreOpt.step(gradsAt(3));
    const next = await host(await opt.params());
    expect(await host(await restored.params())).toEqual(next);
    expectClose(next, { w: coreParams.w, b: coreParams.b });

    await expectCode(
      restored.loadStateDict({ ...saved, optimizer: 'SGDScheduleFree' }),
      'STATE_MISMATCH',
      /not AdamWScheduleFree/,
    );
    const wrongSize = structuredClone(saved);
    wrongSize.state.b.z.pop();
    await expectCode(restored.loadStateDict(wrongSize), 'STATE_MISMATCH', /state\.b\.z has 4 values/);
    expect(await host(await restored.params())).toEqual(next);
    for (const o of [opt, restored]) await o.dispose();
  });

  it('changes program between steps (new options, RAdam phases) without losing state', async () => {
    const opt = await RAdamScheduleFree.create(ort, initial(), { lr: 0.05 });
    const ref = new core.RAdamScheduleFree({ w: values(12, 1), b: values(5, 2) }, { lr: 0.05 }).train();
    await opt.train();
    for (let i = 0; i < 7; i++) {
      if (i === 3) {
        opt.paramGroups[0].weightDecay = 0.1;
        ref.paramGroups[0].weightDecay = 0.1;
      }
      await opt.step(gradsAt(i));
      ref.step(gradsAt(i));
    }
    expectClose(await host(await opt.params()), ref.params);
    opt.paramGroups[0].lr = -1;
    await expectCode(opt.step(gradsAt(8)), 'INVALID_OPTION', /"lr"/);
    await opt.dispose();
  });

  it('runs closure classes, giving the closure the parameters at y and restoring them on failure', async () => {
    const opt = await SGDScheduleFreeClosure.create(ort, { w: values(6, 1) }, { lr: 0.5, warmupSteps: 1 });
    const ref = new core.SGDScheduleFreeClosure({ w: values(6, 1) }, { lr: 0.5, warmupSteps: 1 });
    for (let i = 0; i < 3; i++) {
      const g = values(6, 10 + i);
      let seen: number[] = [];
      let refSeen: number[] = [];
      const loss = await opt.step(async (params) => {
        seen = Array.from(params.w.data as Float32Array);
        return { loss: i, grads: { w: g } };
      });
      ref.step(() => {
        refSeen = Array.from(ref.params.w);
        return { w: g };
      });
      expect(loss).toBe(i);
      expectClose({ w: seen }, { w: refSeen });
    }
    const x = await host(await opt.params());
    await expect(
      opt.step(() => {
        throw new Error('loss failed');
      }),
    ).rejects.toThrow('loss failed');
    await expectCode(
      opt.step(() => ({ w: values(5, 1) })),
      'SHAPE_MISMATCH',
      /"w" has 5 elements/,
    );
    expect(await host(await opt.params())).toEqual(x);
    await opt.dispose();
  });

  it('wraps base optimizers with the wrapper fused into the graph', async () => {
    const params = initial();
    const opt = await ScheduleFreeWrapper.create(
      ort,
      AdamWAlgorithm,
      params,
      { lr: 0.05 },
      { momentum: 0.9, weightDecayAtY: 0.1 },
    );
    const refParams = { w: values(12, 1), b: values(5, 2) };
    const ref = new CoreWrapper(new CoreAdamW(refParams, { lr: 0.05 }), {
      momentum: 0.9,
      weightDecayAtY: 0.1,
    }).train();
    await opt.train();
    for (let i = 0; i < 4; i++) {
      await opt.step(gradsAt(i));
      ref.step(gradsAt(i));
    }
    expectClose(await host(await opt.params()), refParams);
    expect((await opt.stateDict()).optimizer).toBe('ScheduleFreeWrapper(AdamW)');
    await opt.dispose();
  });

  it('runs plain base optimizers', async () => {
    const opt = await OnnxBaseOptimizer.create(ort, AdamAlgorithm, initial(), { lr: 0.01 });
    const refParams = { w: values(12, 1), b: values(5, 2) };
    const ref = new CoreAdam(refParams, { lr: 0.01 });
    for (let i = 0; i < 3; i++) {
      await opt.step(gradsAt(i));
      ref.step(gradsAt(i));
    }
    expectClose(await host(await opt.params()), refParams);
    expectClose(await host(await opt.evalParams()), refParams);
    await opt.dispose();
  });

  it('keeps parameter groups with their own options in separate flat buffers', async () => {
    const opt = await SGDScheduleFree.create(
      ort,
      [{ params: { w: values(12, 1) }, lr: 0.1 }, { params: { b: values(5, 2), c: values(3, 3) } }],
      { lr: 0.5 },
    );
    const ref = new core.SGDScheduleFree(
      [{ params: { w: values(12, 1) }, lr: 0.1 }, { params: { b: values(5, 2), c: values(3, 3) } }],
      { lr: 0.5 },
    ).train();
    await opt.train();
    for (let i = 0; i < 3; i++) {
      const g = { ...gradsAt(i), c: values(3, 50 + i) };
      await opt.step(g);
      ref.step(g);
    }
    expect(opt.flatParams(1).dims).toEqual([8]);
    expectClose(await host(await opt.params()), ref.params);
    await opt.dispose();
  });
});
