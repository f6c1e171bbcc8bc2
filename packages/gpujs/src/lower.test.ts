import {
  AdamWScheduleFreeAlgorithm,
  AdamWScheduleFreeReferenceAlgorithm,
  type AdamWScheduleFreeReferenceOptions,
  type Counters,
  graphOf,
  interpret,
  type KernelPlan,
  type ProgramRun,
  planFor,
  RAdamScheduleFreeAlgorithm,
  SGDScheduleFreeAlgorithm,
  scalarValues,
  TypedArrayOps,
} from '@schedulefree/core';
import { describe, expect, it } from 'vitest';
import { type LoweredKernel, lowerPlan } from './lower.js';

const counters = (k: number, weightSum = 1e-4): Counters => ({
  k,
  lrMax: 0.01,
  weightSum,
  scheduledLr: 0.01,
});

const adamw = AdamWScheduleFreeAlgorithm;
/** A step of SF-AdamW; its averaging weight is c = lr² / (weightSum + lr²). */
const adamwPlan = (k: number, lr = 0.01, weightSum = 1e-4) =>
  adamw.planStep({ ...adamw.defaults, lr, weightDecay: 0.1 }, counters(k, weightSum));
/** The kernel plan of a step: its graph under this step's lerp pattern. */
const planOf = (run: ProgramRun): KernelPlan => planFor(graphOf(run.program), run.scalars);

/**
 * Runs a generated kernel as plain JavaScript, element by element, the way gpu.js's cpu mode does
 * (`this.thread.x` per element, sub-kernels as functions that record their argument).
 */
function runAsJs(
  kernel: LoweredKernel,
  tensors: Record<string, Float64Array>,
  scalars: readonly number[],
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
  const args = [...kernel.tensors.map((slot) => tensors[slot]), ...kernel.scalars.map((i) => scalars[i])];
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

describe('lowering a kernel plan to gpu.js kernel source', () => {
  it('passes every per-step value as a kernel argument, never as a constant', () => {
    const [a, b] = [planOf(adamwPlan(5, 0.01)), planOf(adamwPlan(7, 0.003))];
    expect(a).toBe(b); // same structure and lerp pattern: the same plan
    const [kernel] = lowerPlan(a, { style: 'map', rank: 1 });
    // No number is compiled in: not a scalar value, not even a branch threshold.
    expect(kernel.source.match(/(?<![A-Za-z_$0-9])\d+(\.\d+)?(e-?\d+)?/g)).toBeNull();
    // The scalar arguments are exactly the plan's, in its order, named by how each is derived.
    expect(kernel.scalars).toEqual(a.uses.map((_, i) => i));
    const names = a.uses.map(
      (u) => `${{ value: 's_', reciprocal: 'inv_', oneMinus: 'om_' }[u.kind]}${u.name}`,
    );
    expect(kernel.source.startsWith(`function (t_param, t_grad, t_z, t_v, ${names.join(', ')})`)).toBe(true);
  });

  it('takes the lerp branch of the plan: w in one, 1 − w in the other, never both', () => {
    const [large, small] = [planOf(adamwPlan(0)), planOf(adamwPlan(5, 0.01, 1e-3))];
    expect([large.pattern, small.pattern]).toEqual(['l', 's']);
    const [l] = lowerPlan(large, { style: 'single', rank: 1 });
    const [s] = lowerPlan(small, { style: 'single', rank: 1 });
    expect(l.source).toMatch(/om_c\b/);
    expect(l.source).not.toMatch(/s_c\b/);
    expect(s.source).toMatch(/s_c\b/);
    expect(s.source).not.toMatch(/om_c\b/);
    expect(s.source).not.toMatch(/\?/); // no branch left in the kernel
  });

  it('writes y, z and v in one kernel map: the root returns one, identity sub-kernels the others', () => {
    const kernels = lowerPlan(planOf(adamwPlan(3)), { style: 'map', rank: 1 });
    expect(kernels).toHaveLength(1);
    const [k] = kernels;
    expect(k.results.map((r) => r.slots)).toEqual([['param'], ['z'], ['v']]);
    expect(Object.keys(k.subKernels)).toEqual(['o1', 'o2']);
    for (const sub of Object.values(k.subKernels)) expect(sub).toMatch(/return value;/);
    expect(k.tensors).toEqual(['param', 'grad', 'z', 'v']);
  });

  it('gives one kernel per output in single style, each computing only what it needs', () => {
    const plan = planOf(adamwPlan(3));
    const kernels = lowerPlan(plan, { style: 'single', rank: 1 });
    expect(kernels.map((k) => k.results.map((r) => r.slots))).toEqual([[['param']], [['z']], [['v']]]);
    // v = β2·v + (1−β2)·g² reads neither the parameter nor z, nor the lr.
    expect(kernels[2].tensors).toEqual(['grad', 'v']);
    const vScalars = kernels[2].scalars.map((i) => plan.uses[i].name);
    expect(vScalars).not.toContain('lr');
    expect(vScalars.length).toBeLessThan(plan.uses.length);
  });

  it('gives one kernel with a row per output in rows style, each row computing only what it needs', () => {
    const plan = planOf(adamwPlan(3));
    const kernels = lowerPlan(plan, { style: 'rows', rank: 1 });
    expect(kernels).toHaveLength(1);
    const [k] = kernels;
    expect(k.rows).toBe(true);
    expect(k.results.map((r) => r.slots)).toEqual([['param'], ['z'], ['v']]);
    // Each input is an argument once, read by the rows that need it.
    expect(k.tensors).toEqual(['param', 'grad', 'z', 'v']);
    const rows = k.source.split(/if \(this\.thread\.y === \d\) \{|\} else \{/).slice(1);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/Math\.sqrt/);
    // The row of v reads neither the parameter nor z, and takes no square root.
    expect(rows[2]).not.toMatch(/t_param|t_z|Math\.sqrt/);
    // The host modes store flat tensors; shaped ones would need another index.
    expect(() => lowerPlan(plan, { style: 'rows', rank: 2 })).toThrow(/rank 1/);
  });

  it('shares one result between slots holding the same value, and splits maps over four results', () => {
    const options: AdamWScheduleFreeReferenceOptions = {
      ...AdamWScheduleFreeReferenceAlgorithm.defaults,
      innerMomentum: 0.9,
      weightDecay: 0.1,
    };
    const plan = planOf(AdamWScheduleFreeReferenceAlgorithm.planStep(options, counters(2)));
    const kernels = lowerPlan(plan, { style: 'map', rank: 1, maxResults: 4 });
    const results = kernels.flatMap((k) => k.results.map((r) => r.slots));
    expect(results).toContainEqual(['param', 'y']);
    expect(results.flat().sort()).toEqual(['m', 'param', 'v', 'x', 'y', 'z']);
    expect(kernels.map((k) => k.results.length)).toEqual([4, 1]);
  });

  it('indexes elements by the rank of the parameter', () => {
    const plan = planOf(SGDScheduleFreeAlgorithm.planStep(SGDScheduleFreeAlgorithm.defaults, counters(0)));
    expect(lowerPlan(plan, { style: 'single', rank: 2 })[0].source).toContain(
      't_param[this.thread.y][this.thread.x]',
    );
    expect(lowerPlan(plan, { style: 'single', rank: 3 })[0].source).toContain(
      't_param[this.thread.z][this.thread.y][this.thread.x]',
    );
  });

  it('computes what the IR interpreter computes, for every output and both lerp branches', () => {
    const ops = new TypedArrayOps();
    const radam = RAdamScheduleFreeAlgorithm;
    const runs = [
      adamwPlan(0), // c = 1: the large-weight lerp branch
      adamwPlan(5, 0.01, 1e-3), // c < 0.5: the small-weight branch
      radam.planStep({ ...radam.defaults, lr: 0.05, weightDecay: 0.01 }, counters(9)),
      AdamWScheduleFreeReferenceAlgorithm.planStep(
        { ...AdamWScheduleFreeReferenceAlgorithm.defaults, innerMomentum: 0.8, weightDecay: 0.1 },
        counters(4),
      ),
    ];
    for (const run of runs) {
      const plan = planOf(run);
      const n = 37;
      const tensors: Record<string, Float64Array> = {};
      run.program.inputs.forEach((name, i) => {
        tensors[name] = random(n, i + 1, name === 'v');
      });
      const expected = interpret(plan.graph, ops, tensors, run.scalars);
      const scalars = scalarValues(plan, run.scalars);
      for (const style of ['map', 'single'] as const) {
        const kernels = lowerPlan(plan, { style, rank: 1 });
        expect(kernels.flatMap((k) => k.results.flatMap((r) => r.slots)).sort()).toEqual(
          [...plan.stores].sort(),
        );
        for (const kernel of kernels) {
          const got = runAsJs(kernel, tensors, scalars);
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
    const plan = planOf(adamwPlan(1));
    const graph = { ...plan.graph, inputs: ['param', 'grad-x'] };
    expect(() => lowerPlan({ ...plan, graph }, { style: 'map', rank: 1 })).toThrow(
      /"grad-x" is not an identifier/,
    );
  });
});
