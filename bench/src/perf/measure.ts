/** Timing helpers for the performance harness: medians of wall-clock times in one process. */

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` `warmup` times untimed, then `repeats` times timed; returns the median in ms. */
export async function medianMs(fn: () => unknown, repeats: number, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Bandwidth of a plain Float32Array copy of `size` elements (8 bytes moved per element), in
 * bytes per ms: the memory-bound floor every optimizer step is measured against.
 */
export async function copyBandwidth(
  size: number,
  repeats: number,
): Promise<{ bytesPerMs: number; copyMs: number }> {
  const src = new Float32Array(size).fill(1);
  const dst = new Float32Array(size);
  const copyMs = await medianMs(() => dst.set(src), repeats, 3);
  return { bytesPerMs: (8 * size) / copyMs, copyMs };
}

/** Deterministic pseudo-random fill in [-1, 1). */
export function fillRandom<A extends Float32Array | Float64Array>(array: A, seed = 1): A {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    array[i] = s / 2147483648 - 1;
  }
  return array;
}
