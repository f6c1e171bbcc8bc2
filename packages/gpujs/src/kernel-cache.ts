/**
 * gpu.js kernels shared by every optimizer on the same GPU instance. Building a kernel compiles a
 * shader (or a wasm module), which costs far more than a step; two optimizers with the same update
 * and parameter shape reuse one kernel. Sharing is safe because the kernels are immutable pipeline
 * kernels: each call returns new values to its caller and never writes into a value someone holds.
 *
 * A kernel is destroyed when its last optimizer is disposed, except small ones (whose memory is
 * small too), which stay until `gpu.destroy()` for the next optimizer to reuse.
 */

/** A kernel as gpu.js returns it (its run shortcut). */
export type CachedKernel = ((...args: unknown[]) => unknown) & {
  destroy?: (removeCanvasReferences?: boolean) => void;
};

interface Entry {
  readonly fn: CachedKernel;
  readonly elements: number;
  refs: number;
}

/** Kernels over at most this many elements stay built while unused. */
export const KEEP_UNUSED_ELEMENTS = 1 << 16;

const caches = new WeakMap<object, Map<string, Entry>>();

function cacheOf(gpu: object): Map<string, Entry> {
  let cache = caches.get(gpu);
  if (!cache) {
    cache = new Map();
    caches.set(gpu, cache);
  }
  return cache;
}

/** The kernel for `key` on this GPU, built by `build` if there is none; counts one more user. */
export function acquireKernel(
  gpu: object,
  key: string,
  elements: number,
  build: () => CachedKernel,
): CachedKernel {
  const cache = cacheOf(gpu);
  let entry = cache.get(key);
  if (!entry) {
    entry = { fn: build(), elements, refs: 0 };
    cache.set(key, entry);
  }
  entry.refs++;
  return entry.fn;
}

/** Counts one user less; destroys a large kernel nobody uses any more. */
export function releaseKernel(gpu: object, key: string): void {
  const cache = cacheOf(gpu);
  const entry = cache.get(key);
  if (!entry) return;
  entry.refs--;
  if (entry.refs > 0 || entry.elements <= KEEP_UNUSED_ELEMENTS) return;
  cache.delete(key);
  try {
    entry.fn.destroy?.();
  } catch {
    // A kernel whose context is already gone has nothing left to free.
  }
}
