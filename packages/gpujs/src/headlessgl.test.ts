import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import { GPU } from 'gpu.js';
import { describe, it } from 'vitest';
import { gpujsReplayBackend } from './conformance.js';

// WebGL in Node through headless-gl: opt-in only (the optional native `gl` package, built from
// source, under xvfb-run; see docs/gpujs.md). Skipped where it is not installed, as in CI.
const backend = await gpujsReplayBackend('gpujs-headlessgl', () => new GPU({ mode: 'headlessgl' }));
describe.skipIf(!GPU.isHeadlessGLSupported)('headless-gl (opt-in)', () => {
  defineConformanceSuite(
    backend,
    { describe, it },
    { reference: typedArrayReplayBackend('core-f64', 'float64', 'fused'), randomCases: 9 },
  );
});
