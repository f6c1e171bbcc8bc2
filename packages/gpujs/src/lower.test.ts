import {
  AdamWScheduleFreeAlgorithm,
  AdamWScheduleFreeReferenceAlgorithm,
  type AdamWScheduleFreeReferenceOptions,
  type Counters,
  graphOf,
  interpret,
  RAdamScheduleFreeAlgorithm,
  SGDScheduleFreeAlgorithm,
  TypedArrayOps,
} from '@schedulefree/core';
import { describe, expect, it } from 'vitest';
import { type KernelArgument, type LoweredKernel, lowerGraph, scalarArgumentValue } from './lower.js';

const counters = (k: number): Counters => ({ k, lrMax: 0.01, weightSum: 1e-4, scheduledLr: 0.01 });

const adamw = AdamWScheduleFreeAlgorithm;
const adamwPlan = (k: number, lr = 0.01) =>
  adamw.planStep({ ...adamw.defaults, lr, weightDecay: 0.1 }, counters(k));

/**
 * Runs a generated kernel as plain JavaScript, element by element, the way gpu.js's cpu mode does
 * (`this.thread.x` per element, sub-kernels as functions that record their argument).
 */
function runAsJs(
  kernel: LoweredKernel,
  tensors: Record<string, Float64Array>,
  scalars: Record<string, number>,
): Record<string, Float64Array> {
  const n = Object.values(tensors)[0].length;
  const recorded: Record<string, number> = {};
  const subNames = Object.keys(kernel.subKernels).map((key, j) => [key, `sfOut${j + 1}`] as const);
  const prelude = subNames.map(
    ([key, fn]) => `function ${fn}(value) { rec[${JSON.stringify(key)}] = value; }`,
  );
  // Test-only evaluation of our own generated source.
  const fn = new Function('rec', `${prelude.join('\n')}\nreturn ${kernel.source};`)(recorded) as (
    ...args: unknown[]
  ) => number;
  const args = kernel.args.map((a: KernelArgument) =>
    a.kind === 'tensor' ? tensors[a.slot] : scalarArgumentValue(a, scalars),
  );
  const out: Record<string, Float64Array> = {};
  for (const r of kernel.results) out[r.key] = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const result = fn.apply({ thread: { x: i, y: 0, z: 0 } }, args);
    for (const r of kernel.results) out[r.key][i] = r.key === 'result' ? result : recorded[r.key];
  }
  return out;
}

function random(n: number, seed: number, positive = false): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 31 - 1;
    return positive ? Math.abs(v) : v;
  });
}

describe('lowering the IR to gpu.js kernel source', () => {
  it('passes every per-step value as a kernel argument, never as a constant', () => {
    const [a, b] = [adamwPlan(0, 0.01), adamwPlan(7, 0.003)];
    expect(a.program).toBe(b.program);
    const [kernel] = lowerGraph(graphOf(a.program), { style: 'map', rank: 1 });
    // The only literal is the branch selector's threshold: no scalar value is compiled in.
    const literals = kernel.source.match(/(?<![A-Za-z_$0-9])\d+(\.\d+)?(e-?\d+)?/g) ?? [];
    expect(new Set(literals)).toEqual(new Set(['0.5']));
    const scalarArgs = kernel.args.filter((x) => x.kind === 'scalar').map((x) => x.scalar);
    expect(new Set(scalarArgs)).toEqual(new Set(Object.keys(a.scalars).filter((s) => s !== 'toX')));
    // Same structure, other step: the same source, so gpu.js builds the kernel once.
    expect(lowerGraph(graphOf(b.program), { style: 'map', rank: 1 })[0].source).toBe(kernel.source);
  });

  it('writes y, z and v in one kernel map: the root returns one, identity sub-kernels the others', () => {
    const kernels = lowerGraph(graphOf(adamwPlan(3).program), { style: 'map', rank: 1 });
    expect(kernels).toHaveLength(1);
    const [k] = kernels;
    expect(k.results.map((r) => r.slots)).toEqual([['param'], ['z'], ['v']]);
    expect(Object.keys(k.subKernels)).toEqual(['o1', 'o2']);
    for (const sub of Object.values(k.subKernels)) expect(sub).toMatch(/return value;/);
    expect(k.args.filter((a) => a.kind === 'tensor').map((a) => a.slot)).toEqual(['param', 'grad', 'z', 'v']);
  });

  it('gives one kernel per output in single style, each computing only what it needs', () => {
    const kernels = lowerGraph(graphOf(adamwPlan(3).program), { style: 'single', rank: 1 });
    expect(kernels.map((k) => k.results.map((r) => r.slots))).toEqual([[['param']], [['z']], [['v']]]);
    // v = β2·v + (1−β2)·g² reads neither the parameter nor z.
    expect(kernels[2].args.filter((a) => a.kind === 'tensor').map((a) => a.slot)).toEqual(['grad', 'v']);
  });

  it('shares one result between slots holding the same value, and splits maps over four results', () => {
    const options: AdamWScheduleFreeReferenceOptions = {
      ...AdamWScheduleFreeReferenceAlgorithm.defaults,
      innerMomentum: 0.9,
      weightDecay: 0.1,
    };
    const plan = AdamWScheduleFreeReferenceAlgorithm.planStep(options, counters(2));
    const kernels = lowerGraph(graphOf(plan.program), { style: 'map', rank: 1, maxResults: 4 });
    const results = kernels.flatMap((k) => k.results.map((r) => r.slots));
    expect(results).toContainEqual(['param', 'y']);
    expect(results.flat().sort()).toEqual(['m', 'param', 'v', 'x', 'y', 'z']);
    expect(kernels.map((k) => k.results.length)).toEqual([4, 1]);
  });

  it('indexes elements by the rank of the parameter', () => {
    const graph = graphOf(
      SGDScheduleFreeAlgorithm.planStep(SGDScheduleFreeAlgorithm.defaults, counters(0)).program,
    );
    expect(lowerGraph(graph, { style: 'single', rank: 2 })[0].source).toContain(
      't_param[this.thread.y][this.thread.x]',
    );
    expect(lowerGraph(graph, { style: 'single', rank: 3 })[0].source).toContain(
      't_param[this.thread.z][this.thread.y][this.thread.x]',
    );
  });

  it('derives the lerp branch, its weights and reciprocals on the host', () => {
    const arg = (derive: string) => ({ kind: 'scalar', name: 'x', scalar: 'w', derive }) as never;
    expect(scalarArgumentValue(arg('lerpSmall'), { w: 0.3 })).toBe(1);
    expect(scalarArgumentValue(arg('lerpSmall'), { w: -0.49 })).toBe(1);
    expect(scalarArgumentValue(arg('lerpSmall'), { w: 0.5 })).toBe(0);
    expect(scalarArgumentValue(arg('lerpSmall'), { w: -8 })).toBe(0);
    expect(scalarArgumentValue(arg('lerpComplement'), { w: 0.25 })).toBe(0.75);
    expect(scalarArgumentValue(arg('reciprocal'), { w: 4 })).toBe(0.25);
    expect(() => scalarArgumentValue(arg('value'), {})).toThrow(/missing scalar "w"/);
  });

  it('computes what the IR interpreter computes, for every output and both lerp branches', () => {
    const ops = new TypedArrayOps();
    const radam = RAdamScheduleFreeAlgorithm;
    const plans = [
      adamwPlan(0), // c = 1: the large-weight lerp branch
      adamwPlan(5), // c < 0.5: the small-weight branch
      radam.planStep({ ...radam.defaults, lr: 0.05, weightDecay: 0.01 }, counters(9)),
      AdamWScheduleFreeReferenceAlgorithm.planStep(
        { ...AdamWScheduleFreeReferenceAlgorithm.defaults, innerMomentum: 0.8, weightDecay: 0.1 },
        counters(4),
      ),
    ];
    for (const plan of plans) {
      const graph = graphOf(plan.program);
      const n = 37;
      const tensors: Record<string, Float64Array> = {};
      plan.program.inputs.forEach((name, i) => {
        tensors[name] = random(n, i + 1, name === 'v');
      });
      const expected = interpret(graph, ops, tensors, plan.scalars);
      for (const style of ['map', 'single'] as const) {
        for (const kernel of lowerGraph(graph, { style, rank: 1 })) {
          const got = runAsJs(kernel, tensors, plan.scalars);
          for (const r of kernel.results) {
            for (const slot of r.slots) {
              const want = expected[slot] as Float64Array;
              got[r.key].forEach((v, i) =>
                expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(want[i]))),
              );
            }
          }
        }
      }
    }
  });

  it('rejects names that are not identifiers', () => {
    const graph = { ...graphOf(adamwPlan(1).program), inputs: ['param', 'grad-x'] };
    expect(() => lowerGraph(graph, { style: 'map', rank: 1 })).toThrow(/"grad-x" is not an identifier/);
  });
});
