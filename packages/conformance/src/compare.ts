import { tolerances } from './backend.js';
import { type CaseSpec, flattenRecord, isClosureClass } from './cases.js';
import type { CaseResult } from './replay.js';

/** The largest deviation found and where. */
export interface Deviation {
  /** max over elements of |a − b| / (atol/rtol + |b|), scaled so that ≤ rtol passes. */
  worst: number;
  where: string;
  /** True when every element is within the dtype's tolerance. */
  ok: boolean;
}

/**
 * Compares a replay result to a case's expected trajectory (y, or x for closure classes, after each
 * step, and x after eval) with |a − b| ≤ atol + rtol·|b|.
 */
export function compareToExpected(
  result: CaseResult,
  spec: CaseSpec,
  dtype: 'float32' | 'float64',
): Deviation {
  const { rtol, atol } = tolerances[dtype];
  let worst = 0;
  let where = '';
  let ok = true;
  const visit = (label: string, got: Record<string, number[]>, want: Record<string, number[]>) => {
    for (const [name, expected] of Object.entries(want)) {
      const actual = got[name];
      if (!actual || actual.length !== expected.length) {
        ok = false;
        worst = Number.POSITIVE_INFINITY;
        where = `${label} ${name}: missing or wrong length`;
        continue;
      }
      expected.forEach((b, i) => {
        const a = actual[i];
        const excess = Math.abs(a - b) / (atol / rtol + Math.abs(b));
        if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) ok = false;
        if (!(excess <= worst)) {
          worst = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
          where = `${label} ${name}[${i}]: got ${a}, expected ${b}`;
        }
      });
    }
  };
  if (result.error) return { worst: Number.POSITIVE_INFINITY, where: result.error, ok: false };
  const closure = isClosureClass(spec.optimizer);
  spec.steps.forEach((step, i) => {
    const want = closure ? step.x : step.y;
    if (want) visit(`step ${i + 1}`, result.steps[i]?.params ?? {}, flattenRecord(want));
  });
  if (spec.evalParams) visit('evalParams', result.evalParams, flattenRecord(spec.evalParams));
  return { worst, where, ok };
}

/** Compares two replay results of the same case (a backend against the float64 reference). */
export function compareResults(
  result: CaseResult,
  reference: CaseResult,
  dtype: 'float32' | 'float64',
): Deviation {
  const spec: CaseSpec = {
    name: reference.name,
    optimizer: '',
    options: {},
    params: {},
    steps: reference.steps.map((s) => ({ grads: {}, y: s.params })),
    evalParams: reference.evalParams,
  };
  return compareToExpected(result, spec, dtype);
}
