import { check, TENSOR_OPS_SPEC_VERSION, type TensorOps } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { hostAllFinite } from './kernels/fused.js';
import { webgpuFiniteMask } from './kernels/webgpu.js';

/**
 * Backends on which this package never reads a tensor synchronously (`dataSync`). tfjs-webgpu reads
 * synchronously through a canvas, which returns zeros on some platforms (headless Chromium on
 * SwiftShader, for one) and then keeps those zeros as the tensor's values; its asynchronous
 * `data()` is exact.
 */
export const NO_SYNC_READ_BACKENDS: readonly string[] = ['webgpu'];

/** Whether tensors of a tfjs backend (default: the current one) can be read synchronously. */
export function syncReadAvailable(backend: string = tf.getBackend()): boolean {
  return !NO_SYNC_READ_BACKENDS.includes(backend);
}

const isCheckable = (t: unknown): t is tf.Tensor =>
  t instanceof tf.Tensor && !t.isDisposed && t.dtype === 'float32';

/**
 * {@link TensorOps} over tfjs tensors. Arithmetic returns new tensors (call it inside `tf.tidy`).
 * Storage the optimizer keeps (`clone`, `zerosLike`) is a non-trainable `tf.Variable` with an
 * automatic name, so that it survives any enclosing `tidy`, can be updated with `assign` and never
 * collides with the variables of a model loaded later.
 */
export class TfjsOps implements TensorOps<tf.Tensor, number> {
  readonly specVersion = TENSOR_OPS_SPEC_VERSION;
  /** Tensors already known to be finite (checked together for a whole step). */
  private readonly knownFinite = new WeakSet<tf.Tensor>();
  /** Verdicts for the step in progress (see {@link withVerdicts}), variables included. */
  private verdicts: Map<tf.Tensor, boolean> | null = null;
  /** Answers {@link read} instead of the backend while set (see {@link readingWith}). */
  private reader: ((a: tf.Tensor) => Float32Array) | null = null;

  get name(): string {
    return `tfjs-${tf.getBackend()}`;
  }

  add = (a: tf.Tensor, b: tf.Tensor) => tf.add(a, b);
  sub = (a: tf.Tensor, b: tf.Tensor) => tf.sub(a, b);
  mul = (a: tf.Tensor, b: tf.Tensor) => tf.mul(a, b);
  div = (a: tf.Tensor, b: tf.Tensor) => tf.div(a, b);
  sqrt = (a: tf.Tensor) => tf.sqrt(a);
  abs = (a: tf.Tensor) => tf.abs(a);
  addScalar = (a: tf.Tensor, s: number) => tf.add(a, s);
  mulScalar = (a: tf.Tensor, s: number) => tf.mul(a, s);
  divScalar = (a: tf.Tensor, s: number) => tf.div(a, s);
  lerp(a: tf.Tensor, b: tf.Tensor, w: number): tf.Tensor {
    // PyTorch's two branches: exact at w = 1 (returns b), accurate near both ends.
    const diff = tf.sub(b, a);
    return Math.abs(w) < 0.5 ? tf.add(a, tf.mul(diff, w)) : tf.sub(b, tf.mul(diff, 1 - w));
  }

  size = (a: tf.Tensor) => a.size;
  clone = (a: tf.Tensor): tf.Tensor => tf.variable(a, false);
  zerosLike = (a: tf.Tensor): tf.Tensor => tf.tidy(() => tf.variable(tf.zerosLike(a), false));

  assign(dst: tf.Tensor, src: tf.Tensor): void {
    if (!(dst instanceof tf.Variable))
      throw new Error('TfjsOps.assign: the destination must be a tf.Variable');
    if (dst !== src) dst.assign(src);
  }

  /**
   * The values of a tensor, read synchronously. On a backend without a reliable synchronous read
   * (webgpu) this is an `UNSUPPORTED` error: read with `await tensor.data()` there.
   */
  read(a: tf.Tensor): Float32Array {
    if (this.reader) return this.reader(a);
    check(
      syncReadAvailable(),
      'UNSUPPORTED',
      () =>
        `TfjsOps.read: the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read (dataSync). Read tensors with await tensor.data(), and the optimizer state with await optimizer.stateDictAsync().`,
    );
    return Float32Array.from(a.dataSync() as Float32Array);
  }

  /** Runs `fn` with {@link read} answered by `reader` (no read from the backend). */
  readingWith<R>(reader: (a: tf.Tensor) => Float32Array, fn: () => R): R {
    const outer = this.reader;
    this.reader = reader;
    try {
      return fn();
    } finally {
      this.reader = outer;
    }
  }

  write(dst: tf.Tensor, values: ArrayLike<number>): void {
    const source = tf.tensor(Float32Array.from(values), dst.shape, 'float32');
    this.assign(dst, source);
    source.dispose();
  }

  /** What is already known about a tensor's finiteness (in this step, or for good), or undefined. */
  verdict(a: tf.Tensor): boolean | undefined {
    const known = this.verdicts?.get(a);
    if (known !== undefined) return known;
    return this.knownFinite.has(a) ? true : undefined;
  }

  allFinite(a: tf.Tensor): boolean {
    return this.verdict(a) ?? this.allFiniteTogether([a]);
  }

  /**
   * Checks several tensors at once: one pass over host memory on cpu/wasm, otherwise one reduction
   * and a single GPU→CPU read for all of them. When all are finite, later `allFinite` calls on these
   * tensors return at once. On a backend without a reliable synchronous read (webgpu) this is an
   * `UNSUPPORTED` error: use {@link checkFiniteAsync} there.
   */
  allFiniteTogether(tensors: readonly tf.Tensor[]): boolean {
    if (tensors.length === 0) return true;
    let finite = hostAllFinite(tensors);
    if (finite === null) {
      check(
        syncReadAvailable(),
        'UNSUPPORTED',
        () =>
          `TfjsOps.allFiniteTogether: the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read, so gradients cannot be checked for NaN/Infinity synchronously. Use checkFiniteAsync (the optimizers' applyGradientsAsync/minimizeAsync).`,
      );
      finite = tf.tidy(() => {
        const flags = tensors.map((t) => tf.all(tf.isFinite(t)));
        const all = flags.length === 1 ? flags[0] : tf.all(tf.stack(flags));
        return all.dataSync()[0] === 1;
      });
    }
    if (finite) this.record(tensors, true);
    return finite;
  }

  /**
   * Checks each tensor for NaN/±Infinity without a synchronous read: one pass over host memory on
   * cpu/wasm; elsewhere one reduction per tensor and one asynchronous GPU→CPU read for all of them
   * (on webgpu an integer test of the bit patterns, which no finite-math assumption can fold away).
   * Returns a verdict per float32 tensor (others are left to the gradient checks), to pass to
   * {@link withVerdicts}.
   */
  async checkFiniteAsync(tensors: readonly tf.Tensor[]): Promise<Map<tf.Tensor, boolean>> {
    const result = new Map<tf.Tensor, boolean>();
    const pending: tf.Tensor[] = [];
    for (const t of new Set(tensors)) {
      if (!isCheckable(t)) continue;
      const known = this.verdict(t);
      if (known !== undefined) result.set(t, known);
      else if (t.size === 0) result.set(t, true);
      else pending.push(t);
    }
    const onHost = pending.length > 0 && hostAllFinite([pending[0]]) !== null;
    if (onHost) {
      for (const t of pending) result.set(t, hostAllFinite([t]) as boolean);
    } else if (pending.length > 0) {
      const flags = tf.tidy(() =>
        tf.stack(
          pending.map((t) => {
            const mask = webgpuFiniteMask(t);
            return mask ? tf.min(mask) : tf.cast(tf.all(tf.isFinite(t)), 'float32');
          }),
        ),
      );
      try {
        const values = await flags.data();
        pending.forEach((t, i) => {
          result.set(t, values[i] === 1);
        });
      } finally {
        flags.dispose();
      }
    }
    for (const [t, finite] of result) if (finite && !(t instanceof tf.Variable)) this.knownFinite.add(t);
    return result;
  }

  /**
   * Runs `fn` (a step) with verdicts on its gradients: `allFinite` answers from them, and tensors
   * checked or assumed finite during `fn` are remembered until it returns (variables included).
   */
  withVerdicts<R>(verdicts: ReadonlyMap<tf.Tensor, boolean> | null, fn: () => R): R {
    const outer = this.verdicts;
    this.verdicts = new Map(outer ?? []);
    for (const [t, finite] of verdicts ?? []) this.verdicts.set(t, finite);
    try {
      return fn();
    } finally {
      this.verdicts = outer;
    }
  }

  /** Records tensors as finite without checking (the `checkFinite: false` option). */
  assumeFinite(tensors: readonly tf.Tensor[]): void {
    this.record(tensors, true);
  }

  private record(tensors: readonly tf.Tensor[], finite: boolean): void {
    for (const t of tensors) {
      this.verdicts?.set(t, finite);
      // Tensors are immutable, so the answer holds for good; variables can change, so they are not remembered.
      if (finite && !(t instanceof tf.Variable)) this.knownFinite.add(t);
    }
  }

  dispose(a: tf.Tensor): void {
    a.dispose();
  }
}
