import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import { GPU } from 'gpu.js';
import { describe, it } from 'vitest';
import { gpujsReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');

// The same cases as in Node, on the GPU modes of headless Chromium (SwiftShader for WebGL, and
// WebGPU with --enable-unsafe-webgpu). One GPU instance per mode, shared by every case.
const cases = [
  { mode: 'webgl2', options: {} },
  { mode: 'webgl', options: {} },
  { mode: 'webgpu', options: {} },
  // One value per texel instead of four (gpu.js without optimizeFloatMemory).
  { mode: 'webgl2', options: { optimizeFloatMemory: false } },
] as const;
for (const { mode, options } of cases) {
  const name = `gpujs-${mode}${'optimizeFloatMemory' in options ? '-unpacked' : ''}`;
  const backend = await gpujsReplayBackend(name, () => new GPU({ mode }), options);
  defineConformanceSuite(backend, { describe, it }, { reference, randomCases: 9, badInputMatrix: false });
}
