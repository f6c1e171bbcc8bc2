/** Runs one soak loop, sampling memory and counters at fixed positions, and judges the samples. */
import { type MemoryReading, readMemory } from './memory.js';
import { judge, type MetricRule, type MetricVerdict } from './verdict.js';

/** One sample: memory and exact counters after `at` iterations of a loop. */
export interface Sample extends MemoryReading {
  at: number;
  /** Wall time since the loop started (sampling included). */
  elapsedMs: number;
  counters: Record<string, number>;
}

export interface LoopSpec {
  /** E.g. `steps`, `cycles`, `fit`. */
  name: string;
  /** What one iteration is: `step`, `cycle`, `fit`. */
  unit: string;
  total: number;
  /** Number of intervals between samples (default 20: 21 samples with the one before the loop). */
  intervals?: number;
  /** Share of the loop that is warm-up, not judged (default 0.1). */
  warmupFraction?: number;
  /** Exact counters read at every sample; each must stay equal after warm-up. */
  counters?: () => Record<string, number> | Promise<Record<string, number>>;
  /** One iteration; awaited only when it returns a promise. */
  body: (i: number) => unknown;
  /**
   * Runs at the end of every sampling interval, just before its sample (checkpoints, mode
   * switches): so the warm-up sees it at least twice, and every judged sample is taken at the same
   * point of the pattern.
   */
  periodic?: () => unknown;
}

export interface PhaseResult {
  name: string;
  unit: string;
  total: number;
  /** Index of the first sample judged (the start of steady state). */
  steadyFrom: number;
  samples: Sample[];
  verdicts: MetricVerdict[];
  wallMs: number;
  pass: boolean;
}

const MiB = 1024 * 1024;

/**
 * Tolerances of the noisy metrics, all read after two forced full collections, in a child process
 * whose young generation has a fixed size. Measured on 2–3 full soak runs per backend
 * (docs/conformance.md, "Soak"): after warm-up the heap rose by at most 0.43 MiB, external memory
 * by 0.08 MiB and RSS by 7.5 MiB (the C allocator and the runtimes' thread arenas keep freed pages). Each allowance is
 * two to three times that: over 10,000 steps the heap catches a steady leak of about 150 bytes per
 * step, RSS one of about 2.5 KiB per step.
 */
export const NOISY_RULES: Record<'rss' | 'heapUsed' | 'external' | 'arrayBuffers', MetricRule> = {
  rss: { kind: 'noisy', tolerance: { ratio: 0.05, bytes: 12 * MiB } },
  heapUsed: { kind: 'noisy', tolerance: { ratio: 0.02, bytes: 1 * MiB } },
  external: { kind: 'noisy', tolerance: { ratio: 0.02, bytes: 1 * MiB } },
  arrayBuffers: { kind: 'noisy', tolerance: { ratio: 0.02, bytes: 1 * MiB } },
};

/** The loop positions sampled: 0 (before the first iteration) and the ends of `intervals` equal parts. */
export function samplePositions(total: number, intervals: number): number[] {
  const positions = new Set<number>();
  for (let j = 0; j <= intervals; j++) positions.add(Math.round((j * total) / intervals));
  return [...positions].sort((a, b) => a - b);
}

/** Index of the first position at or past the warm-up, leaving at least two samples to judge. */
export function steadyStart(positions: readonly number[], warmup: number): number {
  const first = positions.findIndex((p) => p >= warmup && p > 0);
  const latest = positions.length - 2;
  if (latest < 1) throw new Error(`${positions.length} samples are too few for a soak verdict (need 3)`);
  return first < 0 ? latest : Math.min(first, latest);
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null)?.then === 'function';

export async function runLoop(spec: LoopSpec): Promise<PhaseResult> {
  if (!Number.isInteger(spec.total) || spec.total < 2) {
    throw new Error(`${spec.name}: a soak loop needs at least 2 iterations, got ${spec.total}`);
  }
  const positions = samplePositions(spec.total, spec.intervals ?? 20);
  const steadyFrom = steadyStart(positions, Math.ceil((spec.warmupFraction ?? 0.1) * spec.total));
  const samples: Sample[] = [];
  const start = performance.now();
  const sample = async (at: number) => {
    const counters = spec.counters ? await spec.counters() : {};
    const memory = await readMemory();
    samples.push({ at, elapsedMs: performance.now() - start, ...memory, counters: { ...counters } });
  };
  let i = 0;
  for (const position of positions) {
    for (; i < position; i++) {
      const result = spec.body(i);
      if (isThenable(result)) await result;
    }
    if (position > 0 && spec.periodic) await spec.periodic();
    await sample(position);
  }
  const wallMs = performance.now() - start;
  const verdicts = judgeSamples(samples, steadyFrom);
  return {
    name: spec.name,
    unit: spec.unit,
    total: spec.total,
    steadyFrom,
    samples,
    verdicts,
    wallMs,
    pass: verdicts.every((v) => v.pass),
  };
}

/** Verdicts on every metric of the samples: the noisy memory readings and each exact counter. */
export function judgeSamples(samples: readonly Sample[], steadyFrom: number): MetricVerdict[] {
  const at = samples.map((s) => s.at);
  const verdicts: MetricVerdict[] = [];
  for (const [metric, rule] of Object.entries(NOISY_RULES)) {
    const key = metric as keyof typeof NOISY_RULES;
    verdicts.push(judge(metric, rule, { at, values: samples.map((s) => s[key]) }, steadyFrom));
  }
  const names = new Set(samples.flatMap((s) => Object.keys(s.counters)));
  for (const name of names) {
    const values = samples.map((s) => s.counters[name] ?? Number.NaN);
    verdicts.push(judge(name, { kind: 'exact' }, { at, values }, steadyFrom));
  }
  return verdicts;
}

/**
 * An exact check that a resource went back to where it was before a phase created anything, after
 * everything was disposed (e.g. `tf.memory().numTensors`).
 */
export function releasedVerdict(metric: string, before: number, after: number): MetricVerdict {
  const pass = after === before;
  return {
    metric: `${metric} after dispose`,
    kind: 'exact',
    reference: before,
    final: after,
    limit: before,
    slopePerUnit: 0,
    pass,
    reason: pass
      ? `back to ${before} once everything was disposed`
      : `${before} before the phase, ${after} after disposing everything`,
  };
}
