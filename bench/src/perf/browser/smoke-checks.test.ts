import { describe, expect, it } from 'vitest';
import type { BrowserPerfFile, BrowserPerfResult, StepCounts } from './results.js';
import { smokeProblems } from './smoke-checks.js';

const webglCounts: StepCounts = {
  texturesCreated: 0,
  gpuBuffersCreated: null,
  readBacks: 0,
  numTensors: 0,
  bytesInGPU: 0,
  issueMsPerStep: 0.5,
  drainMs: 2,
};

function result(over: Partial<BrowserPerfResult> = {}): BrowserPerfResult {
  return {
    backend: 'tfjs-webgl',
    optimizer: 'AdamWScheduleFree',
    size: 1000,
    steps: 3,
    countSteps: 2,
    sync: 'dataSync',
    adapter: { api: 'webgl', vendor: 'Google', renderer: 'SwiftShader' },
    subject: { name: 'sf', medianStepMs: 2, stepTimesMs: [2, 2, 2], counts: webglCounts },
    baseline: { name: 'adam', medianStepMs: 4, stepTimesMs: [4, 4, 4], counts: webglCounts },
    floatsMovedPerParam: 7,
    notes: [],
    ratio: 0.5,
    softwareAdapter: true,
    ...over,
  };
}

const file = (results: BrowserPerfResult[]): BrowserPerfFile => ({
  kind: 'browser-perf',
  chromium: { executable: '/usr/bin/chromium', version: '156', args: [], userAgent: 'Chrome' },
  results,
  failures: [],
});

describe('smokeProblems', () => {
  it('passes a well-formed run', () => {
    expect(smokeProblems(file([result()]), ['tfjs-webgl'], 1000)).toEqual([]);
  });

  it('reports a missing backend, a wrong device and a bad time', () => {
    const problems = smokeProblems(
      file([
        result({
          adapter: { api: 'webgpu', vendor: '', renderer: 'x' },
          subject: { name: 'sf', medianStepMs: Number.NaN, stepTimesMs: [1], counts: webglCounts },
        }),
      ]),
      ['tfjs-webgl', 'onnx-wasm'],
      1000,
    );
    expect(problems).toEqual([
      'tfjs-webgl: sf median NaN ms',
      'tfjs-webgl: sf has 1 step times, expected 3',
      'tfjs-webgl: ran on webgpu, expected webgl',
      'onnx-wasm: expected one result, got 0',
    ]);
  });

  it('reports a measurement that failed', () => {
    const failed = {
      ...file([result()]),
      failures: [{ backend: 'onnx-webgpu', size: 1000, error: 'no adapter' }],
    };
    expect(smokeProblems(failed, ['tfjs-webgl'], 1000)).toEqual(['onnx-webgpu: failed: no adapter']);
  });

  it('requires the counts that apply to the device and no others', () => {
    const wasm = result({
      backend: 'onnx-wasm',
      adapter: { api: 'cpu', vendor: '', renderer: 'wasm' },
      subject: { name: 'sf', medianStepMs: 2, stepTimesMs: [2, 2, 2], counts: webglCounts },
      baseline: {
        name: 'adam',
        medianStepMs: 2,
        stepTimesMs: [2, 2, 2],
        counts: { ...webglCounts, texturesCreated: null, readBacks: null },
      },
    });
    expect(smokeProblems(file([wasm]), ['onnx-wasm'], 1000)).toEqual([
      'onnx-wasm sf: texturesCreated does not apply here, got 0',
      'onnx-wasm sf: readBacks does not apply here, got 0',
      'onnx-wasm sf: numTensors does not apply here, got 0',
      'onnx-wasm sf: bytesInGPU does not apply here, got 0',
      'onnx-wasm adam: numTensors does not apply here, got 0',
      'onnx-wasm adam: bytesInGPU does not apply here, got 0',
    ]);
    const uncounted = result({
      subject: {
        name: 'sf',
        medianStepMs: 2,
        stepTimesMs: [2, 2, 2],
        counts: { ...webglCounts, numTensors: null },
      },
    });
    expect(smokeProblems(file([uncounted]), ['tfjs-webgl'], 1000)).toEqual([
      'tfjs-webgl sf: numTensors should be counted, got null',
    ]);
  });
});
