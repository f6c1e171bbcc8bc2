import type { PhaseResult } from '../loop.js';

/** Loop lengths of a soak run; a backend uses the ones it has phases for. */
export interface SoakCounts {
  /** Optimizer steps of the long training loop. */
  steps: number;
  /** Create → step → dispose cycles. */
  cycles: number;
  /** Repeated `model.fit` calls (tfjs). */
  fits: number;
}

/** One backend of the soak: its phases, run with the given counts, each judged on its own. */
export interface SoakBackend {
  readonly name: string;
  /** One line: what runs and what is counted. */
  readonly summary: string;
  /** The counts (`--full`) and the default ones. */
  readonly counts: { readonly default: SoakCounts; readonly full: SoakCounts };
  run(counts: SoakCounts, progress: (line: string) => void): Promise<PhaseResult[]>;
}

/** Thrown when a backend's runtime cannot be loaded here (reported as skipped unless asked for by name). */
export class BackendUnavailable extends Error {}

/** Deterministic values in [-1, 1). */
export function pseudoRandom(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** A JSON round trip, as a checkpoint written to disk and read back would be. */
export function throughJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
