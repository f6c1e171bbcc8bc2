import { defineConformanceSuite, goldenCases, typedArrayReplayBackend } from '@schedulefree/conformance';
import { GPU } from 'gpu.js';
import { describe, it } from 'vitest';
import { gpujsReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');

// The same cases as in Node, on the GPU modes of headless Chromium (SwiftShader for WebGL, and
// WebGPU with --enable-unsafe-webgpu). One GPU instance per mode, shared by every case.
for (const mode of ['webgl2', 'webgl', 'webgpu'] as const) {
  const backend = gpujsReplayBackend(`gpujs-${mode}`, () => new GPU({ mode }));
  const skip: Record<string, string> = {};
  for (const spec of goldenCases) {
    const reason = backend.supports(spec);
    if (reason) skip[spec.name] = reason;
  }
  defineConformanceSuite(backend as never, { describe, it }, { reference, skip, randomCases: 9 });
}
