/** Reads a parameter count such as 1000000, 1M or 10M (the --size of the perf commands). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`--size: cannot read "${text}" (use e.g. 1000000, 1M or 10M)`);
  const scale = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6 }[m[2]]!;
  const n = Math.round(Number(m[1]) * scale);
  if (n < 1) throw new Error(`--size: expected at least one parameter, got "${text}"`);
  return n;
}
