import golden from './fixtures/golden.json' with { type: 'json' };

/** Nested numeric arrays as stored in case files (any depth), flattened row-major when used. */
export type NestedNumbers = number | NestedNumbers[];

/** One case in the layout of `golden.json` (expected values optional, as in user-supplied files). */
export interface CaseSpec {
  name: string;
  optimizer: string;
  options: Record<string, unknown>;
  /** For wrapper cases: the base optimizer `{ type, options }`. */
  base?: { type: string; options: Record<string, unknown> };
  /** Parameter groups by name with option overrides; absent: one group. */
  groups?: Array<{ params: string[]; options: Record<string, unknown> }>;
  params: Record<string, NestedNumbers>;
  steps: Array<{
    /** `null` for a parameter without a gradient at this step. */
    grads: Record<string, NestedNumbers | null>;
    /** The loss at y passed to the step (ScheduleFree+). */
    loss?: number;
    y?: Record<string, NestedNumbers>;
    z?: Record<string, NestedNumbers>;
    x?: Record<string, NestedNumbers>;
    scheduledLr?: number;
    lrMax?: number;
    weightSum?: number;
  }>;
  evalParams?: Record<string, NestedNumbers>;
}

export interface CaseFile {
  format?: string;
  cases: CaseSpec[];
}

/** The golden float64 reference trajectories shipped with this package. */
export const goldenCases: readonly CaseSpec[] = (golden as CaseFile).cases;

/** Flattens nested arrays row-major. */
export function flatten(values: NestedNumbers): number[] {
  return Array.isArray(values) ? values.flatMap(flatten) : [values];
}

/** Flattens every entry of a record. */
export function flattenRecord(record: Record<string, NestedNumbers>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, flatten(v)]));
}

/** Flattens a step's gradients, keeping `null` for parameters without one. */
export function flattenGrads(record: Record<string, NestedNumbers | null>): Record<string, number[] | null> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v === null ? null : flatten(v)]));
}

/** The features beyond the basics a case needs (see `ReplayFeature`). */
export function caseFeatures(spec: CaseSpec): Array<'frozen-params' | 'schedule-free-plus'> {
  const features: Array<'frozen-params' | 'schedule-free-plus'> = [];
  if (spec.steps.some((s) => Object.values(s.grads).some((g) => g === null))) features.push('frozen-params');
  if (spec.optimizer === 'AdamCScheduleFreePlusPaper') features.push('schedule-free-plus');
  return features;
}

/** Why a backend with these features cannot replay a case, or null. */
export function missingFeatures(spec: CaseSpec, features: readonly string[] = []): string | null {
  const missing = caseFeatures(spec).filter((f) => !features.includes(f));
  return missing.length > 0 ? `needs ${missing.join(' and ')}, which this backend does not declare` : null;
}

/** Whether a class takes `step(closure)` and keeps x in its parameters. */
export const isClosureClass = (optimizer: string): boolean => optimizer.endsWith('Closure');
