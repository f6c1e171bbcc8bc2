import { utils } from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { capacityProblem, textureSizeOf, WEBGPU_GUARANTEED_BUFFER_BYTES } from './limits.js';

describe('tensor capacity', () => {
  it('sizes textures exactly as gpu.js does: 2-D shapes as they are, others as the most square texture', () => {
    const gpujsSize = (shape: number[], optimizeFloatMemory: boolean) =>
      Array.from(
        (
          utils as unknown as { getKernelTextureSize(s: object, d: number[]): Int32Array }
        ).getKernelTextureSize({ optimizeFloatMemory, precision: 'single' }, [
          shape[0],
          shape[1] ?? 1,
          shape[2] ?? 1,
        ]),
      );
    const shapes = [
      [1],
      [5],
      [97],
      [1001],
      [7840],
      [65537],
      [784, 10],
      [10, 1],
      [3, 5],
      [4, 3, 2],
      [7, 1, 3],
    ];
    for (const shape of shapes) {
      expect(textureSizeOf(shape)).toEqual(gpujsSize(shape, false));
      expect(textureSizeOf(shape, true)).toEqual(gpujsSize(shape, true));
    }
    expect(textureSizeOf([784, 10])).toEqual([784, 10]);
  });

  it('rejects a GL tensor whose texture exceeds MAX_TEXTURE_SIZE, and says how to fix it', () => {
    const gl = { mode: 'webgl2', maxTextureSize: 8192 };
    expect(capacityProblem([8192 * 8192], gl)).toBeNull();
    expect(capacityProblem([8192, 8192], gl)).toBeNull();
    const wide = capacityProblem([9000, 2], gl);
    expect(wide).toMatch(/\[9000, 2\] needs a 9000×2 texture/);
    expect(wide).toMatch(/8192×8192/);
    expect(wide).toMatch(/Pass it flat/);
    expect(capacityProblem([9000 * 2], gl)).toBeNull();
    expect(capacityProblem([8192 * 8192 + 1], gl)).toMatch(/split it\s+into several parameters/);
  });

  it('allows four times as many elements, in any shape, with four values per texel', () => {
    const packed = { mode: 'webgl', maxTextureSize: 8192, optimizeFloatMemory: true };
    expect(capacityProblem([9000, 2], packed)).toBeNull();
    expect(capacityProblem([4 * 8192 * 8192], packed)).toBeNull();
    expect(capacityProblem([4 * 8192 * 8192 + 4], packed)).toMatch(
      /allows at most 8192×8192 \(MAX_TEXTURE_SIZE 8192, so 268435456 elements\)/,
    );
  });

  it('rejects a WebGPU tensor larger than the storage buffer every device supports', () => {
    const webgpu = { mode: 'webgpu', maxTextureSize: Infinity };
    const max = WEBGPU_GUARANTEED_BUFFER_BYTES / 4;
    expect(capacityProblem([max], webgpu)).toBeNull();
    expect(capacityProblem([max + 1], webgpu)).toMatch(/MiB storage buffer/);
  });

  it('puts no limit on host modes', () => {
    expect(capacityProblem([1e9], { mode: 'webasm', maxTextureSize: Infinity })).toBeNull();
  });
});
