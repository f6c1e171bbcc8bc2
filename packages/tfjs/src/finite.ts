import { check } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { hostAllFinite, onHost } from './kernels/host.js';
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

let warnedUnchecked = false;

/** Lets the next unchecked synchronous step warn again (for tests). */
export function resetUncheckedWarning(): void {
  warnedUnchecked = false;
}

function warnUnchecked(backend: string): void {
  if (warnedUnchecked) return;
  warnedUnchecked = true;
  console.warn(
    `@schedulefree/tfjs: on the ${backend} backend, minimize() and applyGradients() (hence model.fit) do not check gradients for NaN/Infinity: ${backend} has no reliable synchronous GPU→CPU read, so a synchronous step cannot see a check's result before it returns. A non-finite gradient will corrupt the optimizer state. Use await optimizer.minimizeAsync(f) or applyGradientsAsync(grads) for checked steps, or pass { checkFinite: false } to silence this warning.`,
  );
}

const isCheckable = (t: unknown): t is tf.Tensor =>
  t instanceof tf.Tensor && !t.isDisposed && t.dtype === 'float32';

/** 1 when every element of each tensor is finite, else 0, as one float32 vector (on the device). */
function finiteFlags(tensors: readonly tf.Tensor[]): tf.Tensor {
  return tf.tidy(() =>
    tf.stack(
      tensors.map((t) => {
        // On webgpu an integer test of the bit patterns, which no finite-math assumption can fold away.
        const mask = webgpuFiniteMask(t);
        return mask ? tf.min(mask) : tf.cast(tf.all(tf.isFinite(t)), 'float32');
      }),
    ),
  );
}

/** Whether each tensor is free of NaN and ±Infinity, with one reduction each and one asynchronous read for all. */
export async function finiteAsync(tensors: readonly tf.Tensor[]): Promise<boolean[]> {
  if (tensors.length === 0) return [];
  const flags = finiteFlags(tensors);
  try {
    return Array.from(await flags.data(), (v) => v === 1);
  } finally {
    flags.dispose();
  }
}

/**
 * The finite-check policy of one optimizer (its `checkFinite` option): what the engine's question
 * "is this gradient finite?" (`storage.allFinite`) answers on each tfjs backend.
 *
 * - cpu, wasm: one pass over host memory, for every step.
 * - Synchronous steps elsewhere ({@link synchronous}, {@link precheck}): on webgl one reduction and
 *   one synchronous read for all gradients of the step; on webgpu, which has no reliable
 *   synchronous read, no check (warned once) or, with `checkFinite: true`, an `UNSUPPORTED` error.
 * - Asynchronous steps elsewhere: one reduction per gradient and one asynchronous read for all the
 *   gradients the engine asks about together.
 * - `checkFinite: false`: every gradient counts as finite.
 *
 * Verdicts on tensors (immutable) are remembered; on variables only for the step in progress.
 */
export class FiniteChecks {
  private readonly finite = new WeakSet<tf.Tensor>();
  /** Verdicts of the synchronous step in progress. */
  private step: Map<tf.Tensor, boolean> | null = null;
  /** Tensors waiting for the next asynchronous read, and its result. */
  private batch: { tensors: tf.Tensor[]; result: Promise<boolean[]> } | null = null;

  constructor(
    private readonly checkFinite: boolean | undefined,
    private readonly owner: () => string,
  ) {}

  /**
   * The engine's question about a tensor (a gradient, a loaded state buffer): an answer, a promise
   * of one (asynchronous calls), or null when a synchronous call cannot tell (webgpu).
   */
  allFinite(t: tf.Tensor): boolean | Promise<boolean> | null {
    if (this.checkFinite === false) return true;
    const known = this.step?.get(t) ?? (this.finite.has(t) ? true : undefined);
    if (known !== undefined) return known;
    const host = hostAllFinite([t]);
    if (host !== null) return this.remember(t, host);
    // In a synchronous call without synchronous reads (webgpu) this cannot be told here.
    if (this.step) return syncReadAvailable() ? this.remember(t, this.readTogether([t])) : null;
    return this.later(t);
  }

  /** A copy made for a later step keeps what is known about the original. */
  copied(original: tf.Tensor, copy: tf.Tensor): void {
    if (this.finite.has(original)) this.finite.add(copy);
  }

  /** Whether a synchronous call ({@link synchronous}) is in progress: it cannot wait for a read. */
  get inSynchronousCall(): boolean {
    return this.step !== null;
  }

  /** Runs a synchronous call (every `engine.now`): verdicts from {@link precheck} hold until it returns. */
  synchronous<R>(fn: () => R): R {
    const outer = this.step;
    this.step = new Map();
    try {
      return fn();
    } finally {
      this.step = outer;
    }
  }

  /**
   * Decides the gradients of a synchronous step together before the engine asks about each: one
   * read for all on webgl; on webgpu none (with a one-time warning), or `UNSUPPORTED` with an
   * explicit `checkFinite: true`, before anything else happens.
   */
  precheck(grads: readonly tf.Tensor[], method: string): void {
    // On cpu and wasm the engine's questions are answered on the host, one pass each.
    if (this.checkFinite === false || !this.step || onHost()) return;
    const unknown = grads.filter(
      (t) => isCheckable(t) && this.step!.get(t) === undefined && !this.finite.has(t),
    );
    if (unknown.length === 0) return;
    const backend = tf.getBackend();
    if (syncReadAvailable()) {
      // One reduction and one read for the whole step (when one is not finite, the engine's
      // questions find which).
      if (this.readTogether(unknown)) for (const t of unknown) this.remember(t, true);
      return;
    }
    check(
      this.checkFinite !== true,
      'UNSUPPORTED',
      () =>
        `${this.owner()}.${method}(): checkFinite: true cannot be honoured by a synchronous step on the ${backend} backend, which has no reliable synchronous GPU→CPU read; nothing was changed. Use await optimizer.${method}Async(...), which checks the gradients before anything changes, or pass { checkFinite: false }.`,
    );
    warnUnchecked(backend);
    for (const t of unknown) this.step.set(t, true);
  }

  private remember(t: tf.Tensor, finite: boolean): boolean {
    this.step?.set(t, finite);
    // A tensor's values never change; a variable's may, so it is not remembered beyond the step.
    if (finite && !(t instanceof tf.Variable)) this.finite.add(t);
    return finite;
  }

  private readTogether(tensors: readonly tf.Tensor[]): boolean {
    return tf.tidy(() => tf.min(finiteFlags(tensors)).dataSync()[0] === 1);
  }

  /** Joins the next asynchronous read, which starts once the engine has asked about every gradient. */
  private later(t: tf.Tensor): Promise<boolean> {
    if (!this.batch) {
      const tensors: tf.Tensor[] = [];
      const result = Promise.resolve().then(() => {
        this.batch = null;
        return finiteAsync(tensors);
      });
      this.batch = { tensors, result };
    }
    const index = this.batch.tensors.push(t) - 1;
    return this.batch.result.then((verdicts) => this.remember(t, verdicts[index]));
  }
}
