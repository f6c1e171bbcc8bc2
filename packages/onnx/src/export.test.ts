import { fusedStepProgram } from '@schedulefree/core';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import {
  AdamWScheduleFree,
  type ExportedModel,
  exportProgram,
  type OrtModule,
  type OrtTensor,
} from './index.js';

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Runs an exported model in a runtime with inputs by slot (tensors) and its scalars. */
async function runExported(
  ort: OrtModule,
  model: ExportedModel,
  tensors: Record<string, Float32Array>,
  scalars: Record<string, number>,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(model.bytes);
  const feeds: Record<string, OrtTensor> = {};
  for (const input of model.inputs) {
    feeds[input.name] =
      input.kind === 'scalar'
        ? new ort.Tensor('float32', Float32Array.of(scalars[input.slot]), [])
        : new ort.Tensor('float32', tensors[input.slot], [tensors[input.slot].length]);
  }
  const results = await session.run(feeds);
  await session.release();
  const out: Record<string, Float32Array> = {};
  for (const output of model.outputs)
    out[output.slot] = (results[output.name] as OrtTensor).data as Float32Array;
  return out;
}

const runtimes = [ortNode, ortWeb] as unknown as OrtModule[];

describe('exportStep', () => {
  it('describes every input and output of a standalone model', () => {
    const model = exportProgram(
      fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, true),
    );
    expect(model.opsetVersion).toBe(17);
    expect(model.inputs.map((p) => `${p.kind}:${p.name}`)).toEqual([
      'tensor:param',
      'tensor:grad',
      'tensor:z',
      'tensor:v',
      ...['beta2', 'oneMinusBeta2', 'inv_bc2', 'eps', 'wd', 'lr', 'c', 'yCoef'].map((n) => `scalar:${n}`),
    ]);
    // Scalar inputs are the core's kernel plan's: a divisor arrives as its reciprocal.
    expect(model.inputs.find((p) => p.name === 'inv_bc2')?.use).toEqual({ kind: 'reciprocal', name: 'bc2' });
    expect(model.pattern).toBe('s');
    expect(model.outputs.map((p) => `${p.slot}->${p.name}`)).toEqual([
      'param->param_next',
      'z->z_next',
      'v->v_next',
    ]);
    expect(model.inputs.every((p) => p.description.length > 10)).toBe(true);
    expect(model.inputs.find((p) => p.name === 'param')?.shape).toEqual(['n']);
  });

  it('runs in onnxruntime-node and onnxruntime-web with identical results, equal to the optimizer’s own step', async () => {
    const params = { w: values(12, 1), b: values(5, 2) };
    const opt = await AdamWScheduleFree.create(ortWeb, params, {
      lr: 0.05,
      weightDecay: 0.01,
      warmupSteps: 2,
    });
    await opt.train();
    for (let i = 0; i < 3; i++) await opt.step({ w: values(12, 10 + i), b: values(5, 20 + i) });

    const exported = opt.exportStep();
    expect(exported.algorithm).toBe('AdamWScheduleFree');
    expect(exported.params.map((p) => [p.name, p.offset, p.size])).toEqual([
      ['w', 0, 12],
      ['b', 12, 5],
    ]);
    // Flatten the state as the description says: parameters concatenated in group order.
    const flat = (record: Record<string, ArrayLike<number>>) => {
      const out = new Float32Array(17);
      for (const p of exported.params) out.set(record[p.name], p.offset);
      return out;
    };
    const state = await opt.stateDict();
    const y = await opt.params();
    const grads = { w: values(12, 99), b: values(5, 98) };
    const tensors = {
      param: flat({ w: y.w.data as Float32Array, b: y.b.data as Float32Array }),
      grad: flat(grads),
      z: flat({ w: state.state.w.z, b: state.state.b.z }),
      v: flat({ w: state.state.w.v, b: state.state.b.v }),
    };
    const [fromNode, fromWeb] = await Promise.all(
      runtimes.map((ort) => runExported(ort, exported, tensors, exported.scalars)),
    );
    for (const slot of ['param', 'z', 'v'])
      expect(Array.from(fromNode[slot])).toEqual(Array.from(fromWeb[slot]));

    await opt.step(grads);
    const after = await opt.params();
    expect(Array.from(fromWeb.param)).toEqual([
      ...(after.w.data as Float32Array),
      ...(after.b.data as Float32Array),
    ]);
    expect(opt.groupState()).toEqual(exported.nextCounters);

    // The exported eval move gives what evalParams() gives.
    const x = await opt.evalParams();
    const newState = await opt.stateDict();
    const moved = await runExported(
      ortNode as unknown as OrtModule,
      exported.toEval!,
      { param: fromWeb.param, z: flat({ w: newState.state.w.z, b: newState.state.b.z }) },
      exported.toEval!.scalars,
    );
    expect(Array.from(moved.param)).toEqual([...(x.w.data as Float32Array), ...(x.b.data as Float32Array)]);
    await opt.dispose();
  });
});
