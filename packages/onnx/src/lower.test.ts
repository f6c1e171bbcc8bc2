import {
  type Algorithm,
  type Counters,
  type ElementwiseProgram,
  graphOf,
  type KernelPlan,
  lerpToZProgram,
  planFor,
  scalarValues,
  scheduleFreeAlgorithms,
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
import { lowerPlan, outputName } from './lower.js';
import { modelOf } from './model.js';
import { encodeModel } from './onnx-model.js';
import type { OrtModule, OrtTensor } from './runtime.js';

/**
 * The lowering must compute exactly what the core's kernel plan says, in float32: every IR operation
 * is one float32 rounding, every scalar argument of the plan (a value, a reciprocal or 1 − w,
 * derived in float64) is rounded to float32 once, and each lerp takes the plan's branch. The
 * reference below evaluates the plan that way (each result through Math.fround), and the ONNX graphs
 * must agree with it bit for bit, in both runtimes.
 */
const f = Math.fround;
const map = (a: Float32Array, g: (x: number, i: number) => number) => a.map((x, i) => f(g(x, i)));

function evaluate32(
  plan: KernelPlan,
  tensors: Record<string, Float32Array>,
  scalars: Record<string, number>,
): Record<string, Float32Array> {
  const args = scalarValues(plan, scalars).map(f);
  const value: Float32Array[] = [];
  for (const node of plan.graph.nodes) {
    if (!plan.live.has(node.id) || node.kind !== 'tensor') continue;
    if (node.op === 'input') {
      value[node.id] = tensors[node.name];
      continue;
    }
    const a = value[node.args[0]];
    const s = args[plan.operand.get(node.id) ?? -1];
    if (node.op === 'sqrt') value[node.id] = map(a, Math.sqrt);
    else if (node.op === 'abs') value[node.id] = map(a, Math.abs);
    else if (node.op === 'lerp') {
      const b = value[node.args[1]];
      value[node.id] = plan.small.has(node.id)
        ? map(a, (x, i) => x + f(s * f(b[i] - x)))
        : map(a, (x, i) => b[i] - f(f(b[i] - x) * s));
    } else {
      const b = value[(node.args as readonly number[])[1]];
      const right = (i: number) => (s === undefined ? b[i] : s);
      const op = {
        add: (x: number, y: number) => x + y,
        sub: (x: number, y: number) => x - y,
        mul: (x: number, y: number) => x * y,
        div: (x: number, y: number) => x / y,
      }[node.op];
      // A scalar divisor is multiplied by as its reciprocal.
      value[node.id] = map(a, (x, i) => (s !== undefined && node.op === 'div' ? x * s : op(x, right(i))));
    }
  }
  return Object.fromEntries(plan.stores.map((slot) => [slot, value[plan.graph.outputs[slot]]]));
}

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

async function runPlan(
  ort: OrtModule,
  plan: KernelPlan,
  scalars: Record<string, number>,
  tensors: Record<string, Float32Array>,
) {
  const lowered = lowerPlan(plan, { length: N });
  const session = await ort.InferenceSession.create(encodeModel(modelOf(lowered.graph)));
  const values = scalarValues(plan, scalars);
  const feeds: Record<string, OrtTensor> = {};
  for (const port of lowered.inputs) {
    feeds[port.name] =
      port.kind === 'scalar'
        ? new ort.Tensor('float32', Float32Array.of(values[port.use!]), [])
        : new ort.Tensor('float32', tensors[port.slot], [N]);
  }
  const out = await session.run(feeds);
  await session.release();
  return out;
}

describe('lowerPlan', () => {
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
    it(`${key}: computes the kernel plan in float32 bit for bit, without Where (node and web)`, async () => {
      const program = group[0].program;
      const tensors: Record<string, Float32Array> = {};
      program.inputs.forEach((slot, i) => {
        tensors[slot] = random(N, 17 + i, slot === 'v' || slot.toLowerCase().includes('sq'));
      });
      for (const run of group.slice(0, 3)) {
        const plan = planFor(graphOf(program), run.scalars);
        const lowered = lowerPlan(plan, { length: N });
        expect(lowered.graph.nodes.some((n) => n.op === 'Where')).toBe(false);
        expect(lowered.inputs.filter((p) => p.kind === 'scalar')).toHaveLength(plan.uses.length);
        const want = evaluate32(plan, tensors, run.scalars);
        for (const ort of [ortNode, ortWeb] as unknown as OrtModule[]) {
          const got = await runPlan(ort, plan, run.scalars, tensors);
          for (const slot of plan.stores) {
            expect(Array.from((got[outputName(slot)] as OrtTensor).data as Float32Array)).toEqual(
              Array.from(want[slot]),
            );
          }
        }
      }
    });
  }

  it('takes the lerp branch the float64 weight decides, also where float32 would round it to 0.5', async () => {
    const graph = graphOf(lerpToZProgram);
    const tensors = { param: random(N, 3), z: random(N, 4) };
    const justBelow = 0.5 - 2 ** -30;
    expect(f(justBelow)).toBe(0.5);
    const plan = planFor(graph, { w: justBelow });
    expect(plan.pattern).toBe('s');
    const got = (await runPlan(ortNode as unknown as OrtModule, plan, { w: justBelow }, tensors))
      .param_next as OrtTensor;
    const small = tensors.param.map((x, i) => f(x + f(0.5 * f(tensors.z[i] - x))));
    const large = tensors.param.map((x, i) => f(tensors.z[i] - f(f(tensors.z[i] - x) * 0.5)));
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(small));
    expect(Array.from(small)).not.toEqual(Array.from(large));
  });

  it('splits gradients into parts concatenated in the graph', () => {
    const lowered = lowerPlan(planFor(graphOf(runs[0].program), runs[0].scalars), {
      length: 10,
      gradParts: [3, 7],
    });
    expect(lowered.inputs.filter((p) => p.kind === 'grad-part').map((p) => p.name)).toEqual([
      'grad.0',
      'grad.1',
    ]);
    expect(lowered.graph.nodes.find((n) => n.op === 'Concat')?.inputs).toEqual(['grad.0', 'grad.1']);
  });

  it('adds a finiteness check output that is NaN exactly when a gradient is not finite', async () => {
    const run = runs[0];
    const plan = planFor(graphOf(run.program), run.scalars);
    const values = scalarValues(plan, run.scalars);
    const lowered = lowerPlan(plan, { length: 4, checkGrad: true });
    const session = await ortNode.InferenceSession.create(encodeModel(modelOf(lowered.graph)));
    const check = async (grad: number[]) => {
      const feeds: Record<string, OrtTensor> = {};
      for (const port of lowered.inputs) {
        feeds[port.name] =
          port.kind === 'scalar'
            ? new ortNode.Tensor('float32', Float32Array.of(values[port.use!]), [])
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
