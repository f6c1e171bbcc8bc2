import {
  compileReduction,
  graphOf,
  planFor,
  AdamCScheduleFreePlusPaperAlgorithm as plus,
  scalarValues,
} from '@schedulefree/core';
import { GPU } from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { GpuKernels, type GpuLike } from './kernels.js';
import { lowerReduction } from './lower.js';
import { shapedView } from './values.js';

const reduction = plus.reduction!([plus.defaults], [plus.initialCounters()]);
const plan = planFor(graphOf(reduction.program), reduction.scalars);

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe('a reduction lowered to a gpu.js partial-sum kernel', () => {
  it('is written from the core expressions: one block loop per term, only the nodes each needs', () => {
    const lowered = lowerReduction(plan, 1);
    expect(lowered.terms).toEqual(['l1', 'ip']);
    expect(lowered.tensors).toEqual(['grad', 'z', 'x']);
    const [l1, ip] = lowered.source.split('if (this.thread.y === 0)')[1].split('if (this.thread.y === 1)');
    expect(l1).toContain('Math.abs(');
    expect(l1).not.toContain('t_z');
    expect(ip).toContain('t_z[i]');
    expect(ip).toContain('t_x[i]');
  });

  for (const [mode, shape] of [
    ['cpu', [1001]],
    ['webasm', [1001]],
    ['cpu', [7, 13]],
    ['cpu', [3, 5, 7]],
  ] as const) {
    it(`sums every element of each term (${mode}, shape [${shape.join(', ')}]) like the core's loop`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = { grad: random(size, 1), z: random(size, 2), x: random(size, 3) };
      const gpu = new GPU({ mode });
      try {
        const kernels = new GpuKernels(gpu as unknown as GpuLike, {
          mode,
          style: 'single',
          maxResults: 1,
          asyncKernels: false,
          optimizeFloatMemory: false,
        });
        const { result, blocks } = kernels.reduce(plan, shape, [], (names) =>
          names.map((name) => shapedView(data[name as keyof typeof data], shape)),
        );
        // About √n blocks per term; the host adds them up.
        expect(blocks).toBe(Math.ceil(size / Math.ceil(Math.sqrt(size))));
        const rows = result as Float32Array[];
        const sums = rows.map((row) => row.reduce((a, b) => a + b, 0));
        const expected = compileReduction(plan)(
          plan.graph.inputs.map((name) => data[name as keyof typeof data]),
          scalarValues(plan, reduction.scalars),
        );
        sums.forEach((sum, j) => {
          expect(Math.abs(sum - expected[j])).toBeLessThan(1e-5 * (1 + Math.abs(expected[j])));
        });
        expect(sums[0]).toBeGreaterThan(0);
        kernels.destroy();
      } finally {
        gpu.destroy();
      }
    });
  }
});
