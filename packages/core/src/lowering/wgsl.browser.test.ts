import { describe, expect, it } from 'vitest';
import { fusedStepProgram, referenceStepProgram } from '../algorithms/programs.js';
import { graphOf } from '../ir/graph-cache.js';
import { compileLoop } from './js-loop.js';
import { planFor, scalarValues } from './kernel-plan.js';
import { lowerToWgsl, lowerToWgslKernels, wgslDispatch, wgslUniforms } from './wgsl.js';

// Runs the WGSL kernels on the browser's WebGPU adapter (SwiftShader in headless Chromium) and
// compares them with the JavaScript loop of the same plan, in float32 tolerance.
type Gpu = { requestAdapter(): Promise<{ requestDevice(): Promise<GPUDeviceLike> } | null> };
// biome-ignore lint/suspicious/noExplicitAny: the WebGPU types are not in the core's lib.
type GPUDeviceLike = any;

const gpu = (globalThis as unknown as { navigator?: { gpu?: Gpu } }).navigator?.gpu;

async function runWgsl(
  device: GPUDeviceLike,
  code: string,
  kernel: ReturnType<typeof lowerToWgsl>,
  inputs: Record<string, Float32Array>,
  scalars: Record<string, number>,
  n: number,
) {
  const S = (globalThis as unknown as { GPUBufferUsage: Record<string, number> }).GPUBufferUsage;
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const uniform = device.createBuffer({ size: kernel.uniformBytes, usage: S.UNIFORM | S.COPY_DST });
  device.queue.writeBuffer(uniform, 0, wgslUniforms(kernel, scalars, n));
  const buffers = kernel.bindings.map((b) => {
    const buffer = device.createBuffer({ size: 4 * n, usage: S.STORAGE | S.COPY_SRC | S.COPY_DST });
    if (b.role !== 'output') device.queue.writeBuffer(buffer, 0, inputs[b.slot]);
    return buffer;
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: uniform } },
      ...kernel.bindings.map((b, k) => ({ binding: b.binding, resource: { buffer: buffers[k] } })),
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...wgslDispatch(n));
  pass.end();
  const reads = kernel.outputs.map((slot) => {
    const k = kernel.bindings.findIndex((b) => b.slot === slot && b.role !== 'input');
    const read = device.createBuffer({ size: 4 * n, usage: S.MAP_READ | S.COPY_DST });
    encoder.copyBufferToBuffer(buffers[k], 0, read, 0, 4 * n);
    return read;
  });
  device.queue.submit([encoder.finish()]);
  const out: Record<string, Float32Array> = {};
  for (const [j, read] of reads.entries()) {
    await read.mapAsync(1);
    out[kernel.outputs[j]] = new Float32Array(read.getMappedRange().slice(0));
  }
  return out;
}

describe.skipIf(!gpu)('WGSL kernels on WebGPU', () => {
  const programs = [
    fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: true }, true),
    referenceStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, 'z-at-y'),
  ];
  for (const program of programs) {
    for (const inPlace of [false, true]) {
      it(`${program.key} ${inPlace ? 'in place' : 'into new buffers'} agrees with the JavaScript loop`, async () => {
        const adapter = await gpu!.requestAdapter();
        if (!adapter) return;
        const device = await adapter.requestDevice();
        const graph = graphOf(program);
        const n = 1000;
        const inputs = Object.fromEntries(
          graph.inputs.map((name, k) => [
            name,
            Float32Array.from(
              { length: n },
              (_, i) => (name === 'v' ? 1 : 0.5) + Math.sin(k * 3.1 + i * 0.7) * (name === 'v' ? 0.5 : 1),
            ),
          ]),
        );
        const scalars = Object.fromEntries(graph.scalars.map((s, k) => [s, 0.05 + 0.1 * k]));
        scalars.c = 0.3;
        const plan = planFor(graph, scalars);
        const outputs = inPlace ? plan.stores : Object.keys(graph.outputs);
        // Out of place, the outputs are split over kernels that each stay within 8 storage buffers.
        const kernels = inPlace
          ? [lowerToWgsl(plan, outputs, { inPlace })]
          : lowerToWgslKernels(plan, outputs);
        const got: Record<string, Float32Array> = {};
        for (const kernel of kernels)
          Object.assign(got, await runWgsl(device, kernel.code, kernel, inputs, scalars, n));
        const want = outputs.map(() => new Float64Array(n));
        compileLoop(plan, outputs)(
          graph.inputs.map((s) => Float64Array.from(inputs[s])),
          want,
          scalarValues(plan, scalars),
        );
        outputs.forEach((slot, j) => {
          for (let i = 0; i < n; i++)
            expect(Math.abs(got[slot][i] - want[j][i])).toBeLessThanOrEqual(
              2e-6 * (1 + Math.abs(want[j][i])),
            );
        });
        device.destroy();
      });
    }
  }
});
