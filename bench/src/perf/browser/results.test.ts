import { describe, expect, it } from 'vitest';
import {
  type AdapterInfo,
  adapterLabel,
  browserPerfTable,
  isSoftwareAdapter,
  type PageResult,
  quartiles,
  type StepCounts,
  softwareWarning,
  stepRatio,
  withRatio,
} from './results.js';

const swiftshaderGL: AdapterInfo = {
  api: 'webgl',
  vendor: 'Google Inc. (Google)',
  renderer: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
};
const hardwareGPU: AdapterInfo = {
  api: 'webgpu',
  vendor: 'nvidia',
  renderer: 'NVIDIA H200',
  fallback: false,
};

const counts = (over: Partial<StepCounts> = {}): StepCounts => ({
  texturesCreated: 0,
  gpuBuffersCreated: null,
  readBacks: 0,
  numTensors: 0,
  bytesInGPU: 0,
  issueMsPerStep: 1,
  drainMs: 1,
  ...over,
});

function page(over: Partial<PageResult> = {}): PageResult {
  return {
    backend: 'tfjs-webgl',
    optimizer: 'AdamWScheduleFree',
    size: 1_000_000,
    steps: 20,
    countSteps: 5,
    sync: 'dataSync',
    adapter: swiftshaderGL,
    subject: {
      name: 'AdamWScheduleFree (@schedulefree/tfjs)',
      medianStepMs: 12,
      stepTimesMs: [14, 10, 12],
      counts: counts(),
    },
    baseline: {
      name: 'tf.train.adam',
      medianStepMs: 16,
      stepTimesMs: [16, 18, 14, 16, 16],
      counts: counts({ texturesCreated: 2, numTensors: 1 }),
    },
    floatsMovedPerParam: 7,
    notes: [],
    ...over,
  };
}

describe('stepRatio', () => {
  it('is the subject’s median over the baseline’s', () => {
    expect(stepRatio(12, 16)).toBe(0.75);
    expect(withRatio(page()).ratio).toBe(0.75);
  });

  it('refuses times that cannot make a ratio', () => {
    expect(() => stepRatio(1, 0)).toThrow(/two positive times/);
    expect(() => stepRatio(Number.NaN, 1)).toThrow(/two positive times/);
  });
});

describe('quartiles', () => {
  it('interpolates between order statistics', () => {
    expect(quartiles([4, 1, 3, 2, 5])).toEqual([2, 4]);
    expect(quartiles([1, 2, 3, 4])).toEqual([1.75, 3.25]);
    expect(quartiles([7])).toEqual([7, 7]);
    expect(quartiles([]).every(Number.isNaN)).toBe(true);
  });
});

describe('software adapters', () => {
  it('recognises SwiftShader, llvmpipe and WebGPU fallback adapters, not hardware or CPU backends', () => {
    expect(isSoftwareAdapter(swiftshaderGL)).toBe(true);
    expect(isSoftwareAdapter({ api: 'webgpu', vendor: 'google', renderer: 'swiftshader' })).toBe(true);
    expect(
      isSoftwareAdapter({ api: 'webgl', vendor: 'Mesa', renderer: 'llvmpipe (LLVM 15.0.6, 256 bits)' }),
    ).toBe(true);
    expect(isSoftwareAdapter({ api: 'webgpu', vendor: '', renderer: '', fallback: true })).toBe(true);
    expect(isSoftwareAdapter(hardwareGPU)).toBe(false);
    expect(isSoftwareAdapter({ api: 'cpu', vendor: '', renderer: 'onnxruntime-web wasm' })).toBe(false);
  });

  it('marks the adapter cell and warns, naming the backends', () => {
    expect(adapterLabel(swiftshaderGL)).toMatch(
      /^webgl: Google Inc\. \(Google\) \/ ANGLE .*\[software rasteriser\]$/,
    );
    expect(adapterLabel(hardwareGPU)).toBe('webgpu: nvidia / NVIDIA H200');
    const results = [withRatio(page()), withRatio(page({ backend: 'tfjs-webgpu', adapter: hardwareGPU }))];
    expect(results.map((r) => r.softwareAdapter)).toEqual([true, false]);
    expect(softwareWarning(results)).toMatch(/^Software rasteriser: tfjs-webgl ran on/);
    expect(softwareWarning([results[1]])).toBeNull();
  });
});

describe('browserPerfTable', () => {
  it('has one row per result with times, ratio, per-step counts and the adapter', () => {
    const onnx = page({
      backend: 'onnx-wasm',
      adapter: { api: 'cpu', vendor: '', renderer: 'onnxruntime-web wasm, 1 thread(s)' },
      subject: {
        name: 's',
        medianStepMs: 30,
        stepTimesMs: [30],
        counts: counts({ texturesCreated: null, readBacks: null, numTensors: null }),
      },
      baseline: {
        name: 'Adam graph (same runtime)',
        medianStepMs: 20,
        stepTimesMs: [20],
        counts: counts({ texturesCreated: null, readBacks: null, numTensors: null }),
      },
    });
    const lines = browserPerfTable([withRatio(page()), withRatio(onnx)]).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(
      /^backend\s+optimizer\s+size\s+ms\/step \[IQR\]\s+baseline\s+baseline ms \[IQR\]\s+ratio/,
    );
    expect(lines[0]).toMatch(/adapter$/);
    const [webgl, wasm] = [lines[2].split(/\s{2,}/), lines[3].split(/\s{2,}/)];
    expect(webgl.slice(0, 10)).toEqual([
      'tfjs-webgl',
      'AdamWScheduleFree',
      '1M',
      '12.0 [11.0–13.0]',
      'tf.train.adam',
      '16.0 [16.0–16.0]',
      '0.75x',
      '0 / 2',
      '0 / 1',
      '0 / 0',
    ]);
    expect(webgl[10]).toContain('[software rasteriser]');
    expect(wasm.slice(0, 10)).toEqual([
      'onnx-wasm',
      'AdamWScheduleFree',
      '1M',
      '30.0 [30.0–30.0]',
      'Adam graph (same runtime)',
      '20.0 [20.0–20.0]',
      '1.50x',
      '– / –',
      '– / –',
      '– / –',
    ]);
  });
});
