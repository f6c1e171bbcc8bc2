import type { CaseSpec } from './cases.js';

/** Float64Array record used to pass gradients and read parameters across backends. */
export type HostRecord = Record<string, Float64Array>;

/** Gradients of one step: `null` for a parameter without a gradient this step (a frozen one). */
export type HostGrads = Record<string, Float64Array | null>;

/**
 * What a case may need beyond the nine classes' basics: `frozen-params` (steps where a parameter has
 * no gradient, `null`), `schedule-free-plus` (`AdamCScheduleFreePlusPaper`: the loss each step and
 * reductions over all parameters). A backend declares what it supports; other cases are skipped.
 */
export type ReplayFeature = 'frozen-params' | 'schedule-free-plus';

/**
 * An optimizer under test, seen through a backend-neutral interface. Backends convert host arrays
 * to their own tensors (and dtype) and back. Every method may be async.
 */
export interface ReplaySubject {
  /** Switches to train mode (a no-op for closure classes). */
  train(): void | Promise<void>;
  /** Switches to eval mode (a no-op for closure classes). */
  eval(): void | Promise<void>;
  /**
   * One step with these gradients (closure classes: through a closure returning `{ loss, grads }`),
   * and the loss at y when the case records one.
   */
  step(grads: HostGrads, loss?: number): void | Promise<void>;
  /** What the parameter buffers hold now (y in train mode, x otherwise). */
  params(): HostRecord | Promise<HostRecord>;
  /** x without changing anything. */
  evalParams(): HostRecord | Promise<HostRecord>;
  /** The optimizer's `stateDict()` (optional: the bad-input matrix uses it). */
  stateDict?(): unknown;
  /** The optimizer's `loadStateDict(state)` (optional: the bad-input matrix uses it). */
  loadStateDict?(state: unknown): void | Promise<void>;
  /**
   * Sets option `key` of every parameter group (as a user edits `paramGroups` between steps) and
   * returns the previous value of group 0 (optional: the bad-input matrix uses it).
   */
  setOption?(key: string, value: unknown): unknown;
  /** Releases everything the subject created. */
  dispose(): void | Promise<void>;
}

/** A backend as the conformance suite sees it. */
export interface ReplayBackend {
  /** Name used by the CLI's `--backend`, e.g. `core-f32`. */
  readonly name: string;
  /** Storage precision; selects the tolerance. */
  readonly dtype: 'float32' | 'float64';
  /** The features beyond the basics this backend supports (default: none). */
  readonly features?: readonly ReplayFeature[];
  /** Why a case cannot run here (unsupported class or option), or null. */
  supports?(spec: CaseSpec): string | null;
  /** Builds the optimizer of a case over its initial parameters. */
  create(spec: CaseSpec): ReplaySubject | Promise<ReplaySubject>;
}

/** Tolerance by dtype: |a − b| ≤ atol + rtol·|b|. */
export const tolerances = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 2e-6, atol: 2e-6 },
} as const;
