import { describe, expect, it } from 'vitest';
import { fusedStepProgram, lerpToZProgram, referenceStepProgram } from '../algorithms/programs.js';
import { graphOf } from '../ir/graph-cache.js';
import { planFor, planKernel } from './kernel-plan.js';
import {
  lowerToWgsl,
  lowerToWgslKernels,
  WGSL_MAX_WORKGROUPS_PER_DIMENSION,
  wgslDispatch,
  wgslUniforms,
} from './wgsl.js';

describe('WGSL lowering', () => {
  const adamw = graphOf(
    fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, true),
  );

  it('reads each input once, writes each output once, and takes every scalar from the uniforms', () => {
    const plan = planFor(adamw, Object.fromEntries(adamw.scalars.map((s) => [s, 0.3])));
    const kernel = lowerToWgsl(plan, Object.keys(adamw.outputs));
    for (const slot of plan.loads)
      expect(kernel.code.match(new RegExp(`b_${slot}\\[i\\]`, 'g'))).toHaveLength(1);
    for (const slot of Object.keys(adamw.outputs)) expect(kernel.code).toContain(`o_${slot}[i] = `);
    expect(kernel.code).not.toMatch(/\d\.\d/); // no value is compiled in
    expect(kernel.bindings.map((b) => b.binding)).toEqual(kernel.bindings.map((_, k) => k + 1));
    expect(kernel.uniformBytes % 16).toBe(0);
    const uniforms = wgslUniforms(kernel, Object.fromEntries(adamw.scalars.map((s) => [s, 0.25])), 1000);
    expect(new Uint32Array(uniforms, 0, 1)[0]).toBe(1000);
  });

  it('in place, an output shares its input binding (read_write) and is never bound twice', () => {
    const graph = graphOf(
      referenceStepProgram({ secondMoment: false, normalize: false, innerMomentum: false }, 'none'),
    );
    const kernel = lowerToWgsl(planKernel(graph, 'll'), undefined, { inPlace: true });
    const slots = kernel.bindings.map((b) => b.slot);
    expect(new Set(slots).size).toBe(slots.length);
    expect(kernel.bindings.find((b) => b.slot === 'z')?.role).toBe('inout');
    expect(kernel.code).toContain('var<storage, read> b_grad');
  });

  it('splits outputs over kernels that each bind at most the storage buffers WebGPU allows', () => {
    const graph = graphOf(
      fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: true }, true),
    );
    const plan = planFor(graph, { c: 0.3 });
    const kernels = lowerToWgslKernels(plan, Object.keys(graph.outputs));
    expect(kernels.length).toBeGreaterThan(1);
    for (const k of kernels) expect(k.bindings.length).toBeLessThanOrEqual(8);
    expect(kernels.flatMap((k) => k.outputs).sort()).toEqual(Object.keys(graph.outputs).sort());
  });

  it('dispatches a 2-D grid past the per-dimension limit', () => {
    expect(wgslDispatch(1)).toEqual([1, 1]);
    const [x, y] = wgslDispatch(64 * WGSL_MAX_WORKGROUPS_PER_DIMENSION * 3 + 1);
    expect(x).toBeLessThanOrEqual(WGSL_MAX_WORKGROUPS_PER_DIMENSION);
    expect(x * y * 64).toBeGreaterThanOrEqual(64 * WGSL_MAX_WORKGROUPS_PER_DIMENSION * 3 + 1);
    expect(() => lowerToWgsl(planKernel(graphOf(lerpToZProgram), 's'), ['z'])).toThrow(/not an output/);
  });
});
