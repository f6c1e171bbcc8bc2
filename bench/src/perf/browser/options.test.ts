import { describe, expect, it } from 'vitest';
import { checkRequest, chromiumArgs, chromiumPath, defaultChromiumArgs, envChromiumArgs } from './options.js';

describe('Chromium command line', () => {
  it('starts from the SwiftShader defaults', () => {
    expect(chromiumArgs([])).toEqual([...defaultChromiumArgs]);
    expect(defaultChromiumArgs).toContain('--enable-unsafe-webgpu');
    expect(defaultChromiumArgs).toContain('--use-angle=swiftshader');
  });

  it('replaces a default of the same name and appends new flags', () => {
    const args = chromiumArgs(['--use-angle=vulkan', '--ignore-gpu-blocklist']);
    expect(args).toContain('--use-angle=vulkan');
    expect(args).not.toContain('--use-angle=swiftshader');
    expect(args.at(-1)).toBe('--ignore-gpu-blocklist');
    expect(args.length).toBe(defaultChromiumArgs.length + 1);
  });

  it('merges --enable-features lists instead of keeping only the last', () => {
    const args = chromiumArgs(['--enable-features=Vulkan', '--enable-features=VulkanFromANGLE,Vulkan']);
    expect(args.filter((a) => a.startsWith('--enable-features'))).toEqual([
      '--enable-features=Vulkan,VulkanFromANGLE',
    ]);
  });

  it('rejects a value that is not a switch, naming the fix', () => {
    expect(() => chromiumArgs(['use-angle=vulkan'])).toThrow(/--chromium-flag=--name=value/);
  });

  it('reads CHROMIUM_ARGS and CHROMIUM_PATH', () => {
    expect(envChromiumArgs({ CHROMIUM_ARGS: ' --use-angle=vulkan  --enable-features=Vulkan ' })).toEqual([
      '--use-angle=vulkan',
      '--enable-features=Vulkan',
    ]);
    expect(envChromiumArgs({})).toEqual([]);
    expect(chromiumPath({})).toBe('/usr/bin/chromium');
    expect(chromiumPath({ CHROMIUM_PATH: '/opt/chrome/chrome' })).toBe('/opt/chrome/chrome');
  });
});

describe('checkRequest', () => {
  const ok = {
    backend: 'tfjs-webgl',
    optimizer: 'AdamWScheduleFree',
    size: 10,
    steps: 3,
    countSteps: 3,
  } as const;

  it('accepts a browser backend and whole counts', () => {
    expect(() => checkRequest(ok)).not.toThrow();
  });

  it('names the browser backends when given a Node one', () => {
    expect(() => checkRequest({ ...ok, backend: 'core-f32' as never })).toThrow(
      /does not run in the browser; use one of tfjs-webgl, tfjs-webgpu, onnx-webgpu, onnx-wasm, gpujs-webgl/,
    );
  });

  it('rejects a size or step count below one', () => {
    expect(() => checkRequest({ ...ok, size: 0 })).toThrow(/size: expected a whole number ≥ 1, got 0/);
    expect(() => checkRequest({ ...ok, steps: 1.5 })).toThrow(/steps/);
  });
});
