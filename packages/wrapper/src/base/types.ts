import type { Counters, OptionSchema, SlotSpec, TensorOps } from '@schedulefree/core';

/** The static structure of one base step (which optional terms exist): part of a program's cache key. */
export type Structure = string;

/** What one base step needs, computed on the host. */
export interface BasePlan {
  /** The step's structure; the same structure always yields the same program. */
  readonly structure: Structure;
  /** Per-step scalars of the update, by name (see {@link BaseAlgorithm.signature}). */
  readonly scalars: Readonly<Record<string, number>>;
  /** The group's base counters after this step (e.g. `step` for bias corrections). */
  readonly counters: Counters;
}

/**
 * A base optimizer (SGD, Adam, ...) written as pure pieces, so that it runs on its own or fused
 * into a Schedule-Free wrapper on any backend: options and validation, state slots, the host
 * schedule of one step, and the elementwise update of the iterate it steps.
 */
export interface BaseAlgorithm<O extends { lr: number }> {
  /** Class name, as in PyTorch (`"SGD"`, `"Adam"`, ...). */
  readonly name: string;
  readonly defaults: Readonly<O>;
  readonly schema: OptionSchema<O>;
  /** Constraints between options that the per-option schema cannot express; returns the problem or null. */
  crossCheck?(options: O): string | null;
  /** State buffers kept per parameter (names are identifiers, unique within this base). */
  slots(options: O): readonly SlotSpec[];
  initialCounters(): Counters;
  plan(options: O, counters: Counters): BasePlan;
  /** The slots read/written and scalars read by the update of a structure. */
  signature(structure: Structure): { readonly slots: readonly string[]; readonly scalars: readonly string[] };
  /**
   * One elementwise step of the iterate `param` with gradient `grad`: returns the new iterate and
   * the new values of the state slots.
   */
  update<T, S>(
    ops: TensorOps<T, S>,
    structure: Structure,
    tensors: Readonly<Record<string, T>>,
    scalars: Readonly<Record<string, S>>,
  ): Record<string, T>;
  /**
   * The lr the Schedule-Free averaging weights use: the group's `lr` times any adaptive scale the
   * base keeps (`d` in D-Adaptation or Prodigy), read after the step.
   */
  effectiveLr(options: O, counters: Counters): number;
}
