import { TENSOR_OPS_SPEC_VERSION, type TensorOps } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { hostAllFinite } from './kernels/fused.js';

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

  get name(): string {
    return `tfjs-${tf.getBackend()}`;
  }

  add = (a: tf.Tensor, b: tf.Tensor) => tf.add(a, b);
  sub = (a: tf.Tensor, b: tf.Tensor) => tf.sub(a, b);
  mul = (a: tf.Tensor, b: tf.Tensor) => tf.mul(a, b);
  div = (a: tf.Tensor, b: tf.Tensor) => tf.div(a, b);
  sqrt = (a: tf.Tensor) => tf.sqrt(a);
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

  read(a: tf.Tensor): Float32Array {
    return Float32Array.from(a.dataSync() as Float32Array);
  }

  write(dst: tf.Tensor, values: ArrayLike<number>): void {
    const source = tf.tensor(Float32Array.from(values), dst.shape, 'float32');
    this.assign(dst, source);
    source.dispose();
  }

  allFinite(a: tf.Tensor): boolean {
    if (this.knownFinite.has(a)) return true;
    return this.allFiniteTogether([a]);
  }

  /**
   * Checks several tensors at once: one pass over host memory on cpu/wasm, otherwise one reduction
   * and a single GPU→CPU read for all of them. When all are finite, later `allFinite` calls on these
   * tensors return at once.
   */
  allFiniteTogether(tensors: readonly tf.Tensor[]): boolean {
    if (tensors.length === 0) return true;
    let finite = hostAllFinite(tensors);
    if (finite === null) {
      finite = tf.tidy(() => {
        const flags = tensors.map((t) => tf.all(tf.isFinite(t)));
        const all = flags.length === 1 ? flags[0] : tf.all(tf.stack(flags));
        return all.dataSync()[0] === 1;
      });
    }
    // Tensors are immutable, so the answer holds for good; variables can change, so they are not remembered.
    if (finite) for (const t of tensors) if (!(t instanceof tf.Variable)) this.knownFinite.add(t);
    return finite;
  }

  /** Records tensors as finite without checking (the `checkFinite: false` option). */
  assumeFinite(tensors: readonly tf.Tensor[]): void {
    for (const t of tensors) if (!(t instanceof tf.Variable)) this.knownFinite.add(t);
  }

  dispose(a: tf.Tensor): void {
    a.dispose();
  }
}
