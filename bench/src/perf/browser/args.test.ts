import { describe, expect, it } from 'vitest';
import { parseBrowserPerfArgs } from './args.js';
import { browserRequests } from './run.js';

describe('parseBrowserPerfArgs', () => {
  it('reads the issue’s command line', () => {
    const args = parseBrowserPerfArgs(
      [
        '--browser',
        '--backend',
        'tfjs-webgpu',
        '--optimizer',
        'SGDScheduleFree',
        '--size',
        '1M',
        '--json',
        'out.json',
      ],
      (p) => `/cwd/${p}`,
    );
    expect(args).toMatchObject({
      backends: ['tfjs-webgpu'],
      optimizer: 'SGDScheduleFree',
      sizes: [1_000_000],
      steps: 20,
      json: '/cwd/out.json',
      chromiumFlags: [],
    });
    expect(args.countSteps).toBeUndefined();
  });

  it('takes several backends and sizes, step counts, a timeout and repeated Chromium flags', () => {
    const args = parseBrowserPerfArgs([
      '--browser',
      '--backend=onnx-wasm, gpujs-webgl',
      '--size=1k,10M',
      '--steps=3',
      '--count-steps=2',
      '--timeout=30',
      '--chromium-flag=--use-angle=vulkan',
      '--chromium-flag=--enable-features=Vulkan',
    ]);
    expect(args.backends).toEqual(['onnx-wasm', 'gpujs-webgl']);
    expect(args.sizes).toEqual([1000, 10_000_000]);
    expect(args.steps).toBe(3);
    expect(args.countSteps).toBe(2);
    expect(args.timeoutMs).toBe(30_000);
    expect(args.chromiumFlags).toEqual(['--use-angle=vulkan', '--enable-features=Vulkan']);
  });

  it('explains what is missing or malformed', () => {
    expect(() => parseBrowserPerfArgs(['--browser'])).toThrow(/--backend: name one or more of tfjs-webgl/);
    expect(() => parseBrowserPerfArgs(['--browser', '--backend', 'onnx-wasm', '--steps', '0'])).toThrow(
      /--steps: expected a whole number ≥ 1, got "0"/,
    );
    expect(() => parseBrowserPerfArgs(['--browser', '--backend', 'onnx-wasm', '--size', 'lots'])).toThrow(
      /--size: cannot read "lots"/,
    );
    expect(() => parseBrowserPerfArgs(['--browser', '--backend', 'onnx-wasm', '--frobnicate'])).toThrow();
  });
});

describe('browserRequests', () => {
  it('makes one request per backend and size, counting over min(steps, 5) steps by default', () => {
    const requests = browserRequests({
      backends: ['tfjs-webgl', 'onnx-wasm'],
      optimizer: 'X',
      sizes: [10, 20],
      steps: 3,
    });
    expect(requests.map((r) => `${r.backend}@${r.size}`)).toEqual([
      'tfjs-webgl@10',
      'tfjs-webgl@20',
      'onnx-wasm@10',
      'onnx-wasm@20',
    ]);
    expect(requests.every((r) => r.countSteps === 3 && r.steps === 3)).toBe(true);
    expect(
      browserRequests({ backends: ['onnx-wasm'], optimizer: 'X', sizes: [1], steps: 40 })[0].countSteps,
    ).toBe(5);
  });

  it('fails before Chromium starts when a backend does not run in the browser', () => {
    expect(() => browserRequests({ backends: ['onnx-node'], optimizer: 'X', sizes: [1], steps: 3 })).toThrow(
      /onnx-node" does not run in the browser/,
    );
  });
});
