import type { ElementwiseProgram } from '../program.js';
import type { TensorOps } from '../tensor-ops.js';

/**
 * What an optimizer needs from a tensor backend: the {@link TensorOps} for storage (and for eager
 * execution), plus optionally a faster way to run a program (a fused loop, an ONNX session, a GPU
 * kernel). `run` must leave each output's new value in `slots[name]`, either by writing the existing
 * tensor in place or by replacing the entry with a new tensor; the engine adopts the new tensor and
 * disposes the replaced one (except the user's parameter, which it never disposes).
 */
export interface Backend<T> {
  readonly ops: TensorOps<T, number>;
  /** Runs a program over one parameter's slots. Defaults to eager execution over `ops`. */
  run?(
    program: ElementwiseProgram,
    slots: Record<string, T>,
    scalars: Readonly<Record<string, number>>,
  ): void;
  /**
   * Runs a program over all parameters of one group at once (e.g. one ONNX session run or one GPU
   * dispatch over a flat buffer). Takes precedence over `run` when defined; same contract per entry.
   */
  runGroup?(
    program: ElementwiseProgram,
    entries: ReadonlyArray<Record<string, T>>,
    scalars: Readonly<Record<string, number>>,
  ): void;
  /** True when `value` is a tensor this backend can use as a parameter or gradient. */
  accepts?(value: unknown): value is T;
  /** Describes why `grad` cannot be used with `param` (other than size), or returns null. */
  checkGradient?(param: T, grad: T): string | null;
}
