/**
 * How parameters sit in the engine's storage. A **member** is what one run treats as one tensor per
 * slot: with the per-parameter layout, one parameter (the user's tensor); with the flat layout, a
 * whole group, its parameters end to end in tensors the engine owns.
 */

/** A parameter's place. */
export interface ParamPlace {
  readonly name: string;
  readonly group: number;
  /** Index of its member. */
  readonly member: number;
  /** Element offset inside the member's tensors. */
  readonly offset: number;
  readonly size: number;
}

/** One member: its parameters and its slot tensors (`param`, then state once initialized). */
export interface Member<T> {
  readonly group: number;
  readonly params: readonly ParamPlace[];
  /** Total element count. */
  readonly size: number;
  slots: Record<string, T>;
  /** Whether the engine created (and may release or replace) the parameter tensor. */
  readonly ownsParam: boolean;
}

/** A read-only view of a member for adapters. */
export interface MemberView<T> {
  readonly group: number;
  readonly params: readonly ParamPlace[];
  readonly size: number;
  readonly slots: Readonly<Record<string, T>>;
}

/** Element counts of a member's parameters, in order. */
export const memberSizes = (m: { readonly params: readonly ParamPlace[] }): number[] =>
  m.params.map((p) => p.size);

/** The values of one parameter inside a member's host copy. */
export function slice(values: ArrayLike<number> & { subarray?: unknown }, place: ParamPlace, whole: number) {
  const typed = values as Float32Array | Float64Array;
  return place.offset === 0 && place.size === whole
    ? typed
    : typed.subarray(place.offset, place.offset + place.size);
}
