import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import { GPU } from 'gpu.js';
import { describe, it } from 'vitest';
import { gpujsReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');

// Every golden and random case through the generated kernels, in both Node modes without a native build.
const backends = await Promise.all([
  gpujsReplayBackend('gpujs-webasm', () => new GPU({ mode: 'webasm' })),
  gpujsReplayBackend('gpujs-cpu', () => new GPU({ mode: 'cpu' })),
  // One kernel per output (the default in webgpu and cpu) through webasm, and one kernel with a row
  // per output (the default in webasm) through cpu.
  gpujsReplayBackend('gpujs-webasm-single', () => new GPU({ mode: 'webasm' }), { kernelStyle: 'single' }),
  gpujsReplayBackend('gpujs-cpu-rows', () => new GPU({ mode: 'cpu' }), { kernelStyle: 'rows' }),
  // The kernel-map lowering (the default in WebGL modes) runs here through gpu.js's cpu kernels.
  gpujsReplayBackend('gpujs-cpu-map', () => new GPU({ mode: 'cpu' }), { kernelStyle: 'map' }),
  // Promise-returning kernels (gpu.js's asyncMode, the announced v3 default).
  gpujsReplayBackend('gpujs-webasm-async', () => new GPU({ mode: 'webasm' }), { asyncKernels: true }),
]);

for (const backend of backends) {
  defineConformanceSuite(backend, { describe, it }, { reference, randomCases: 18 });
}
