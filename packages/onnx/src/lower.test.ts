import {
  type Algorithm,
  type Counters,
  type ElementwiseProgram,
  graphOf,
  interpret,
  scheduleFreeAlgorithms,
  TENSOR_OPS_SPEC_VERSION,
  type TensorOps,
} from '@schedulefree/core';
import {
  AdagradAlgorithm,
  AdamAlgorithm,
  AdamWAlgorithm,
  RMSpropAlgorithm,
  ScheduleFreeWrapperAlgorithm,
  ScheduleFreeWrapperReferenceAlgorithm,
  SGDAlgorithm,
} from '@schedulefree/wrapper';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { lerpBranches, lerpWeights, lowerGraph, outputName } from './lower.js';
import { modelOf } from './model.js';
import { encodeModel } from './onnx-model.js';
import type { OrtModule, OrtTensor } from './runtime.js';

/**
 * The lowering must reproduce PyTorch's float32 operation sequence exactly: every IR operation is one
 * float32 rounding, scalars are rounded to float32 once, and lerp takes PyTorch's two branches. The
 * reference below evaluates the IR that way (each result through Math.fround), and the ONNX graphs
 * must agree with it bit for bit, in both runtimes.
 */
const f = Math.fround;
const map = (a: Float32Array, g: (x: number, i: number) => number) => a.map((x, i) => f(g(x, i)));
const strictFloat32: TensorOps<Float32Array, number> = {
  specVersion: TENSOR_OPS_SPEC_VERSION,
  name: 'strict-f32',
  add: (a, b) => map(a, (x, i) => x + b[i]),
  sub: (a, b) => map(a, (x, i) => x - b[i]),
  abs: (a) => map(a, Math.abs),
  mul: (a, b) => map(a, (x, i) => x * b[i]),
  div: (a, b) => map(a, (x, i) => x / b[i]),
  sqrt: (a) => map(a, Math.sqrt),
  addScalar: (a, s) => map(a, (x) => x + f(s)),
  mulScalar: (a, s) => map(a, (x) => x * f(s)),
  divScalar: (a, s) => map(a, (x) => x / f(s)),
  lerp(a, b, s) {
    const w = f(s);
    return Math.abs(w) < 0.5
      ? map(a, (x, i) => x + f(w * f(b[i] - x)))
      : map(a, (x, i) => b[i] - f(f(b[i] - x) * f(1 - w)));
  },
  size: (a) => a.length,
  clone: (a) => a.slice(),
  zerosLike: (a) => new Float32Array(a.length),
  assign: (d, s) => d.set(s),
  read: (a) => a.slice(),
  write: (d, v) => d.set(v),
  allFinite: (a) => a.every(Number.isFinite),
  dispose: () => {},
};

/** Seeded standard-normal-ish values. */
function random(n: number, seed: number, positive = false): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 - 0.5;
    out[i] = positive ? u * u * 4 : u * 3;
  }
  return out;
}

interface Run {
  program: ElementwiseProgram;
  scalars: Record<string, number>;
}

/** Steps and mode moves of an algorithm at several counters and options: both lerp branches appear. */
function runsOf<O extends object>(algorithm: Algorithm<O>, variants: Array<Partial<O>>): Run[] {
  const runs: Run[] = [];
  for (const variant of variants) {
    const options = { ...algorithm.defaults, ...variant } as O;
    let counters: Counters = algorithm.initialCounters();
    for (let k = 0; k < 6; k++) {
      const plan = algorithm.planStep(options, counters);
      runs.push(plan);
      counters = plan.counters;
    }
    if (algorithm.kind !== 'plain') runs.push(algorithm.moveTo(options, 'x'), algorithm.moveTo(options, 'y'));
  }
  return runs;
}

const a = scheduleFreeAlgorithms;
const runs: Run[] = [
  ...runsOf(a.SGDScheduleFree, [{ lr: 0.5 }, { lr: 0.5, weightDecay: 0.1, warmupSteps: 3, momentum: 0.6 }]),
  ...runsOf(a.SGDScheduleFreeClosure, [{ weightDecay: 0.1, momentum: 0.6 }, {}]),
  ...runsOf(a.SGDScheduleFreeReference, [{ weightDecay: 0.1 }, { momentum: 0.4 }]),
  ...runsOf(a.AdamWScheduleFree, [{}, { weightDecay: 0.1, innerMomentum: 0.9, warmupSteps: 2 }]),
  ...runsOf(a.AdamWScheduleFreeClosure, [{ weightDecay: 0.1, betas: [0.6, 0.99] }]),
  ...runsOf(a.AdamWScheduleFreeReference, [{ weightDecay: 0.1 }, { decayAtZ: true, weightDecay: 0.1 }]),
  ...runsOf(a.AdamWScheduleFreePaper, [{ weightDecay: 0.1 }]),
  ...runsOf(a.RAdamScheduleFree, [{ betas: [0.9, 0.5] }, { silentSgdPhase: false, weightDecay: 0.1 }]),
  ...runsOf(ScheduleFreeWrapperAlgorithm(SGDAlgorithm, { weightDecayAtY: 0.1 }), [
    { lr: 0.3, momentum: 0.9 },
  ]),
  ...runsOf(ScheduleFreeWrapperAlgorithm(AdamWAlgorithm), [{ lr: 0.1 }]),
  ...runsOf(ScheduleFreeWrapperAlgorithm(RMSpropAlgorithm, { momentum: 0.6 }), [
    { centered: true, momentum: 0.5 },
  ]),
  ...runsOf(ScheduleFreeWrapperReferenceAlgorithm(AdamAlgorithm), [{ weightDecay: 0.1 }, {}]),
  ...runsOf(ScheduleFreeWrapperAlgorithm(AdagradAlgorithm), [{ lrDecay: 0.1, initialAccumulatorValue: 0.5 }]),
];

const N = 37;

async function runGraph(
  ort: OrtModule,
  run: Run,
  tensors: Record<string, Float32Array>,
  specialise: boolean,
) {
  const graph = graphOf(run.program);
  const branches = specialise ? lerpBranches(lerpWeights(graph), run.scalars) : undefined;
  const lowered = lowerGraph(graph, { length: N, branches });
  if (specialise) expect(lowered.graph.nodes.some((n) => n.op === 'Where')).toBe(false);
  const session = await ort.InferenceSession.create(encodeModel(modelOf(lowered.graph)));
  const feeds: Record<string, OrtTensor> = {};
  for (const port of lowered.inputs) {
    feeds[port.name] =
      port.kind === 'scalar'
        ? new ort.Tensor('float32', Float32Array.of(run.scalars[port.slot]), [])
        : new ort.Tensor('float32', tensors[port.slot], [N]);
  }
  const out = await session.run(feeds);
  await session.release();
  return out;
}

describe('lowerGraph', () => {
  const byKey = new Map<string, Run[]>();
  for (const run of runs) byKey.set(run.program.key, [...(byKey.get(run.program.key) ?? []), run]);

  it('covers every kind of program and both lerp branches', () => {
    const keys = [...byKey.keys()];
    for (const prefix of ['sf-fused:', 'sf-closure:', 'sf-reference:', 'lerp-to-z', 'copy-x', 'sf-wrapper']) {
      expect(keys.some((k) => k.startsWith(prefix))).toBe(true);
    }
    const weights = runs.flatMap((r) => ['c', 'w', 'toX', 'toY', 'yWeight'].map((n) => r.scalars[n]));
    expect(weights.some((w) => Math.abs(w) < 0.5)).toBe(true);
    expect(weights.some((w) => Math.abs(w) >= 0.5 && w !== 1)).toBe(true);
  });

  for (const [key, group] of byKey) {
    it(`${key}: matches the float32 operation sequence bit for bit (in-graph and known lerp branches, node and web)`, async () => {
      const program = group[0].program;
      const tensors: Record<string, Float32Array> = {};
      program.inputs.forEach((slot, i) => {
        tensors[slot] = random(N, 17 + i, slot === 'v' || slot.toLowerCase().includes('sq'));
      });
      for (const run of group.slice(0, 3)) {
        const want = interpret(graphOf(program), strictFloat32, tensors, run.scalars);
        const variants = [
          [ortNode, false],
          [ortWeb, false],
          [ortNode, true],
        ] as unknown as Array<[OrtModule, boolean]>;
        for (const [ort, specialise] of variants) {
          const got = await runGraph(ort, run, tensors, specialise);
          for (const slot of program.outputs) {
            expect(Array.from((got[outputName(slot)] as OrtTensor).data as Float32Array)).toEqual(
              Array.from(want[slot]),
            );
          }
        }
      }
    });
  }

  it('splits gradients into parts concatenated in the graph', () => {
    const lowered = lowerGraph(graphOf(runs[0].program), { length: 10, gradParts: [3, 7] });
    expect(lowered.inputs.filter((p) => p.kind === 'grad-part').map((p) => p.name)).toEqual([
      'grad.0',
      'grad.1',
    ]);
    expect(lowered.graph.nodes.find((n) => n.op === 'Concat')?.inputs).toEqual(['grad.0', 'grad.1']);
  });

  it('adds a finiteness check output that is NaN exactly when a gradient is not finite', async () => {
    const run = runs[0];
    const lowered = lowerGraph(graphOf(run.program), { length: 4, checkGrad: true });
    const session = await ortNode.InferenceSession.create(encodeModel(modelOf(lowered.graph)));
    const check = async (grad: number[]) => {
      const feeds: Record<string, OrtTensor> = {};
      for (const port of lowered.inputs) {
        feeds[port.name] =
          port.kind === 'scalar'
            ? new ortNode.Tensor('float32', Float32Array.of(run.scalars[port.slot]), [])
            : new ortNode.Tensor(
                'float32',
                port.slot === 'grad' ? Float32Array.from(grad) : random(4, 3),
                [4],
              );
      }
      return ((await session.run(feeds)).gradCheck.data as Float32Array)[0];
    };
    expect(await check([1, -2, 3e38, 0])).toBe(0);
    expect(await check([1, Number.NaN, 0, 0])).toBeNaN();
    expect(await check([1, 0, Number.NEGATIVE_INFINITY, 0])).toBeNaN();
    await session.release();
  });
});
