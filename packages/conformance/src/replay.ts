import type { HostGrads, HostRecord, ReplayBackend } from './backend.js';
import { type CaseSpec, flattenGrads, missingFeatures } from './cases.js';

/** What `replay` writes for one case (the CLI's output layout). */
export interface CaseResult {
  name: string;
  /** Parameter buffers after each step (y, or x for closure classes), flattened row-major. */
  steps: Array<{ params: Record<string, number[]> }>;
  /** Parameters after the final `eval()` (x). */
  evalParams: Record<string, number[]>;
  /** Why the case did not run or failed; absent on success. */
  error?: string;
  /** True when the backend does not support the case (`error` says why). */
  skipped?: boolean;
}

/** Converts a record of number arrays to Float64Arrays. */
export function toHost(record: Record<string, number[]>): HostRecord {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));
}

/** A step's gradients as host arrays (`null` kept). */
export function stepGrads(step: CaseSpec['steps'][number]): HostGrads {
  return Object.fromEntries(
    Object.entries(flattenGrads(step.grads)).map(([k, v]) => [k, v === null ? null : Float64Array.from(v)]),
  );
}

function toPlain(record: HostRecord): Record<string, number[]> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Array.from(v)]));
}

/**
 * Replays one case: construct, `train()`, then per step feed the recorded gradients and record the
 * parameters; finally `eval()` and record them again. Errors are reported, not thrown.
 */
export async function replayCase(backend: ReplayBackend, spec: CaseSpec): Promise<CaseResult> {
  const result: CaseResult = { name: spec.name, steps: [], evalParams: {} };
  const unsupported = missingFeatures(spec, backend.features) ?? backend.supports?.(spec);
  if (unsupported) return { ...result, error: unsupported, skipped: true };
  let subject: Awaited<ReturnType<ReplayBackend['create']>> | undefined;
  try {
    subject = await backend.create(spec);
    await subject.train();
    for (const step of spec.steps) {
      await subject.step(stepGrads(step), step.loss);
      result.steps.push({ params: toPlain(await subject.params()) });
    }
    await subject.eval();
    result.evalParams = toPlain(await subject.params());
  } catch (error) {
    result.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } finally {
    await subject?.dispose();
  }
  return result;
}

/** Replays every case in order. */
export async function replayAll(backend: ReplayBackend, cases: readonly CaseSpec[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const spec of cases) results.push(await replayCase(backend, spec));
  return results;
}

/**
 * Converts a step's gradients with `convert` (host array → your tensor), passing through anything
 * that is not a host array (null for frozen parameters, and the malformed values the bad-input
 * matrix sends, which your optimizer must refuse itself).
 */
export function convertGrads<T>(grads: unknown, convert: (values: Float64Array) => T): unknown {
  if (grads === null || typeof grads !== 'object' || Array.isArray(grads) || ArrayBuffer.isView(grads))
    return grads;
  return Object.fromEntries(
    Object.entries(grads as Record<string, unknown>).map(([k, v]) => [
      k,
      v instanceof Float64Array ? convert(v) : v,
    ]),
  );
}
