import { ScheduleFreeError } from './errors.js';
import type { Graph } from './ir/graph.js';
import { type ElementwiseProgram, type ReductionProgram, runEager } from './program.js';
import type { DType, HostArray, TensorOps } from './tensor-ops.js';

/**
 * The contract between the optimizer engine of this package and a tensor library. A backend is
 * three things: **storage** (what the engine does with its tensors), **execution** (running one
 * elementwise program over one parameter group), and its declared **capabilities**. Everything else
 * (validation, modes, groups, scalar bookkeeping, state dicts, errors, and the order in which
 * asynchronous calls take effect) is the engine's, written once.
 *
 * A backend that can run programs eagerly from arithmetic alone can build its execution with
 * {@link eagerExecution}; one that compiles the IR reads the program's traced graph and the scalar
 * plan (`planFor`) and lowers them.
 */

/** Version of the {@link Backend} contract. Bumped on any change a backend must react to. */
export const BACKEND_SPEC_VERSION = 2 as const;

/** What the engine does with a backend's tensors. Every method is synchronous. */
export interface TensorStorage<T> {
  /** True when `value` is a tensor this backend can use as a parameter or gradient. */
  accepts(value: unknown): value is T;
  /** Number of elements. */
  size(t: T): number;
  /** A new tensor with the same contents, disposable on its own (it may share immutable storage). */
  clone(t: T): T;
  /** A new zero-filled tensor with the size (and shape) of `like`. */
  zerosLike(like: T): T;
  /** A new tensor with the size (and shape) of `like`, holding `values` (loading saved state). */
  fromHost(values: ArrayLike<number>, like: T): T;
  /**
   * Overwrites `dst` with the contents of `src`. Only called on parameters the engine does not own
   * (the user's tensors, with the per-parameter layout), to restore them exactly.
   */
  assign(dst: T, src: T): void;
  /** The contents, flattened row-major: at once, or as a promise where reads are asynchronous. */
  read(t: T): HostArray | PromiseLike<HostArray>;
  /**
   * Whether no element is NaN or ±Infinity: at once, as a promise, or `null` when it cannot be told
   * here (a device tensor): then the run checks it ({@link Capabilities.deviceFiniteCheck}) or the
   * gradient is taken as finite.
   */
  allFinite(t: T): boolean | PromiseLike<boolean> | null;
  /** Releases a tensor the engine created. Never called on the user's tensors. */
  dispose(t: T): void;
  /** Why `grad` cannot be used with `param` (type, dtype, shape, location), or null. Sizes are checked by the engine. */
  describeGradient?(param: T, grad: T): string | null;
  /**
   * The gradient as it is now, for a call that takes effect later (asynchronous engines): host
   * memory the caller may refill is copied. Default: the tensor itself. A returned copy is disposed
   * once the call has taken effect.
   */
  capture?(grad: T): T;
  /** The flat layout: one new tensor holding `parts` end to end. */
  concat?(parts: readonly T[]): T;
  /** The flat layout: new tensors holding consecutive parts of `t`, of these sizes (optional). */
  split?(t: T, sizes: readonly number[]): T[];
}

/** One member of a group as a run sees it: a parameter, or (flat layout) the whole group. */
export interface MemberRun<T> {
  /**
   * The slots the program reads: `param`, the state slots, and `grad` when the member holds one
   * parameter. The run leaves each output's new value here, by writing the tensor in place or by
   * replacing the entry with a new tensor.
   */
  readonly slots: Record<string, T>;
  /** Flat layout, several parameters: each one's gradient, in order (their sizes are {@link sizes}). */
  readonly gradParts?: readonly T[];
  /** Element count of each parameter of the member, in order. */
  readonly sizes: readonly number[];
  /**
   * Flat layout: which parameters of the member have no gradient this step (true = frozen); their
   * elements must keep every slot's value. Absent when every parameter has one.
   */
  readonly frozen?: readonly boolean[];
}

/** One program run over one parameter group. */
export interface RunRequest<T> {
  readonly program: ElementwiseProgram;
  /** The program's traced graph (traced once per program). */
  readonly graph: Graph;
  /** This run's per-step scalars, in float64. */
  readonly scalars: Readonly<Record<string, number>>;
  /** Index of the parameter group. */
  readonly group: number;
  readonly members: ReadonlyArray<MemberRun<T>>;
  /**
   * Check the gradients for NaN/Infinity while running and report it in {@link RunReport}. Only set
   * for backends declaring {@link Capabilities.deviceFiniteCheck}.
   */
  readonly checkGradients: boolean;
}

/** What a run may report back. */
export interface RunReport {
  /** With {@link RunRequest.checkGradients}: whether every gradient element was finite. */
  readonly gradientsFinite?: boolean;
}

/** A reduction over one parameter group (members whose gradients are absent are left out). */
export interface ReduceRequest<T> {
  readonly program: ReductionProgram;
  readonly graph: Graph;
  readonly scalars: Readonly<Record<string, number>>;
  readonly group: number;
  readonly members: ReadonlyArray<MemberRun<T>>;
}

/** How programs run: synchronously, or returning a promise that settles when the run has happened. */
export interface Execution<T> {
  /**
   * The sum over every element of every member of each term of a reduction, in
   * `program.outputs` order. Needed by algorithms with a reduction (ScheduleFree+); declare it with
   * {@link Capabilities.reductions}.
   */
  reduce?(request: ReduceRequest<T>): readonly number[] | PromiseLike<readonly number[]>;
  // biome-ignore lint/suspicious/noConfusingVoidType: a run may return nothing, at once or as a promise.
  run(request: RunRequest<T>): void | RunReport | PromiseLike<void | RunReport>;
}

/** What a backend declares about itself; the engine never probes. */
export interface Capabilities {
  /**
   * `per-parameter`: each parameter is its own tensor (the user's); `flat`: each group keeps one
   * tensor per slot holding all its parameters end to end (storage must implement `concat`), so a
   * step is one run per group.
   */
  readonly layout: 'per-parameter' | 'flat';
  /**
   * Runs never write their inputs: every output is a new tensor. The engine then keeps backups by
   * reference instead of copying, and discards a run's outputs when it must undo it.
   */
  readonly immutable?: boolean;
  /** Runs can check the gradients on the device ({@link RunRequest.checkGradients}). */
  readonly deviceFiniteCheck?: boolean;
  /** The execution implements `reduce` (two-phase algorithms such as ScheduleFree+). */
  readonly reductions?: boolean;
  /**
   * Every storage call and run completes before it returns (none returns a promise). An
   * asynchronous call that starts at once then takes effect before it returns, so the engine need
   * not {@link TensorStorage.capture} its gradients.
   */
  readonly synchronous?: boolean;
  /** Element type of the arithmetic, when fixed (float32 backends); undefined when it follows the data. */
  readonly dtype?: DType;
}

/** A tensor library as the engine sees it. */
export interface Backend<T> {
  /** Which version of this contract the backend implements; must equal {@link BACKEND_SPEC_VERSION}. */
  readonly specVersion: typeof BACKEND_SPEC_VERSION;
  /** Short name used in error messages, e.g. `"core-f32"` or `"onnx-wasm"`. */
  readonly name: string;
  readonly storage: TensorStorage<T>;
  readonly execution: Execution<T>;
  readonly capabilities: Capabilities;
}

/** Refuses a backend built for another version of the contract (`UNSUPPORTED`). */
export function checkBackend(backend: Backend<unknown>, where: string): void {
  if (backend?.specVersion !== BACKEND_SPEC_VERSION) {
    throw new ScheduleFreeError(
      'UNSUPPORTED',
      `${where}: the backend "${backend?.name}" implements contract version ${backend?.specVersion}, but @schedulefree/core expects ${BACKEND_SPEC_VERSION}. Update the adapter to this version of @schedulefree/core.`,
    );
  }
}

/**
 * An execution that calls each program's body with eager arithmetic (`ops`), one operation at a
 * time: the simplest correct backend, and the reference the compiled ones are tested against. Flat
 * members' gradient parts are joined with `concat`.
 */
export function eagerExecution<T>(
  ops: TensorOps<T, number>,
  concat?: (parts: readonly T[]) => T,
): Execution<T> {
  return {
    run({ program, scalars, members }) {
      for (const member of members) {
        const slots = member.slots;
        if (member.gradParts) {
          if (!concat) throw new Error('eagerExecution: a flat layout needs concat');
          slots.grad = concat(member.gradParts);
        }
        runEager(ops, program, slots, scalars);
        if (member.gradParts) {
          ops.dispose(slots.grad);
          delete slots.grad;
        }
      }
    },
  };
}
