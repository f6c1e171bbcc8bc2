/**
 * How large one tensor may be on each kind of gpu.js backend, checked when an optimizer is built so
 * that an oversized parameter is a clear error instead of a failed (or silently empty) kernel.
 */

/** What the capacity of a tensor depends on. */
export interface DeviceLimits {
  /** The backend mode of the kernels (`webgl2`, `webgpu`, `cpu`, …). */
  readonly mode: string;
  /** The GL context's MAX_TEXTURE_SIZE (textures are at most this many texels wide and high). */
  readonly maxTextureSize: number;
  /** Whether GL textures pack four values per texel (gpu.js `optimizeFloatMemory`). */
  readonly optimizeFloatMemory?: boolean;
}

/** The storage-buffer size every WebGPU device supports (the spec's default limit), in bytes. */
export const WEBGPU_GUARANTEED_BUFFER_BYTES = 128 * 1024 * 1024;

/**
 * The texture gpu.js allocates for a float32 kernel output of this shape (its `getKernelTextureSize`
 * rule): with `optimizeFloatMemory`, four values per texel in the most square texture; otherwise one
 * per texel, a 2-D shape as it is and any other in the most square texture.
 */
export function textureSizeOf(shape: readonly number[], optimizeFloatMemory = false): [number, number] {
  const [x, y = 1, z = 1] = shape;
  if (!optimizeFloatMemory && y > 1 && z === 1) return [x, y];
  const n = optimizeFloatMemory ? Math.ceil((x * y * z) / 4) : x * y * z;
  // The most square [w, h] with w·h ≥ n, as gpu.js chooses it.
  let high = Math.ceil(Math.sqrt(n));
  let low = Math.floor(Math.sqrt(n));
  while (high * low < n) {
    high--;
    low = Math.ceil(n / high);
  }
  return [low, Math.ceil(n / low)];
}

/** True for modes whose tensors live in GL textures. */
export function isGLMode(mode: string): boolean {
  return mode === 'webgl' || mode === 'webgl2' || mode === 'headlessgl';
}

/**
 * Why a tensor of this shape cannot live on this backend, or null when it fits. The message names
 * the limit and how to get under it.
 */
export function capacityProblem(shape: readonly number[], limits: DeviceLimits): string | null {
  const n = shape.reduce((a, b) => a * b, 1);
  if (isGLMode(limits.mode)) {
    const packed = limits.optimizeFloatMemory === true;
    const [w, h] = textureSizeOf(shape, packed);
    const max = limits.maxTextureSize;
    if (w <= max && h <= max) return null;
    const flatHint =
      shape.length > 1 && !packed
        ? ' Pass it flat (shape [n]) so that it is packed into a square texture, or'
        : '';
    return (
      `its shape [${shape.join(', ')}] needs a ${w}×${h} texture but this ${limits.mode} context allows at most ` +
      `${max}×${max} (MAX_TEXTURE_SIZE ${max}, so ${(packed ? 4 : 1) * max * max} elements).${flatHint} split it ` +
      'into several parameters, each in its own entry of the params record.'
    );
  }
  if (limits.mode === 'webgpu' && n * 4 > WEBGPU_GUARANTEED_BUFFER_BYTES) {
    return (
      `its ${n} elements need ${((n * 4) / 2 ** 20).toFixed(0)} MiB, more than the ` +
      `${WEBGPU_GUARANTEED_BUFFER_BYTES / 2 ** 20} MiB storage buffer every WebGPU device supports. Split it into ` +
      'several parameters, each in its own entry of the params record.'
    );
  }
  return null;
}
