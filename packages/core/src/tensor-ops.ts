/**
 * The contract between the update math in this package and a tensor backend.
 *
 * Every Schedule-Free update is elementwise: same-length tensors in, same-length tensors out, plus a
 * handful of scalars computed once per step on the host. A backend implements these operations for
 * its tensor type `T`; the optimizers never see anything else. `S` is the type of a per-step scalar:
 * `number` for eager backends, a symbolic node for the tracing backend (see `ir/trace.ts`), which is
 * how one definition of the math becomes an ONNX graph or a GPU kernel.
 *
 * Binary operations are pure: they return new tensors and never modify their arguments. Only
 * `assign` and `write` mutate.
 */

/** Version of the {@link TensorOps} contract. Bumped on any change an adapter must react to. */
export const TENSOR_OPS_SPEC_VERSION = 2 as const;

/** Element types the optimizers support. */
export type DType = 'float32' | 'float64';

/** Host-side numeric array accepted by `write` and returned by `read`. */
export type HostArray = Float32Array | Float64Array;

export interface TensorOps<T, S = number> {
  /** Which version of this contract the backend implements; must equal {@link TENSOR_OPS_SPEC_VERSION}. */
  readonly specVersion: typeof TENSOR_OPS_SPEC_VERSION;
  /** Short backend name used in error messages, e.g. `"core-f32"` or `"tfjs-webgl"`. */
  readonly name: string;

  // Elementwise arithmetic (pure).
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  sqrt(a: T): T;
  /** `|a|` (since version 2: the reductions of ScheduleFree+ take the L1 norm of the gradients). */
  abs(a: T): T;
  /** `a + s`, with `s` broadcast. */
  addScalar(a: T, s: S): T;
  /** `a * s`, with `s` broadcast. */
  mulScalar(a: T, s: S): T;
  /** `a / s`, with `s` broadcast. */
  divScalar(a: T, s: S): T;
  /**
   * `a + w·(b − a)` evaluated as PyTorch does: `a + w·(b − a)` when `|w| < 0.5`, otherwise
   * `b − (b − a)·(1 − w)`, so that `w = 1` returns `b` exactly.
   */
  lerp(a: T, b: T, w: S): T;

  // Storage.
  /** Number of elements. */
  size(a: T): number;
  /** A new tensor with the same contents. */
  clone(a: T): T;
  /** A new zero-filled tensor with the same size (and shape) as `a`. */
  zerosLike(a: T): T;
  /** Overwrite `dst` with the contents of `src` (same size). */
  assign(dst: T, src: T): void;
  /** Copy the contents to the host, flattened row-major. */
  read(a: T): HostArray;
  /** Overwrite the contents from the host (same number of elements). */
  write(dst: T, values: ArrayLike<number>): void;
  /** True when every element is finite (no NaN, no ±Infinity). */
  allFinite(a: T): boolean;
  /** Release the tensor's memory. Tensors passed in by the user are never disposed by the optimizers. */
  dispose(a: T): void;
}
