import { check, isSmallLerpWeight, TENSOR_OPS_SPEC_VERSION, type TensorOps } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { syncReadAvailable } from './finite.js';
import { hostAllFinite } from './kernels/host.js';

/**
 * {@link TensorOps} over tfjs tensors: the op chains that run a program where no fused kernel does
 * (webgpu, other backends, `kernels: 'ops'`). Arithmetic returns new tensors (call it inside
 * `tf.tidy`). Storage the optimizer keeps (`clone`, `zerosLike`) is a non-trainable `tf.Variable`
 * with an automatic name, so that it survives any enclosing `tidy`, can be updated with `assign`
 * (O(1), no copy) and never collides with the variables of a model loaded later.
 */
export class TfjsOps implements TensorOps<tf.Tensor, number> {
  readonly specVersion = TENSOR_OPS_SPEC_VERSION;

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
    // PyTorch's two branches, chosen by the core's rule: exact at w = 1, accurate near both ends.
    const diff = tf.sub(b, a);
    return isSmallLerpWeight(w) ? tf.add(a, tf.mul(diff, w)) : tf.sub(b, tf.mul(diff, 1 - w));
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
    check(
      syncReadAvailable(),
      'UNSUPPORTED',
      () =>
        `TfjsOps.read: the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read (dataSync). Read tensors with await tensor.data(), and the optimizer state with await optimizer.stateDictAsync().`,
    );
    return Float32Array.from(a.dataSync() as Float32Array);
  }

  write(dst: tf.Tensor, values: ArrayLike<number>): void {
    const source = tf.tensor(Float32Array.from(values), dst.shape, 'float32');
    this.assign(dst, source);
    source.dispose();
  }

  /** One pass over host memory on cpu/wasm, else a reduction and a synchronous read. */
  allFinite(a: tf.Tensor): boolean {
    const onHost = hostAllFinite([a]);
    if (onHost !== null) return onHost;
    const flag = tf.tidy(() => tf.all(tf.isFinite(a)));
    try {
      return this.read(flag)[0] === 1;
    } finally {
      flag.dispose();
    }
  }

  dispose(a: tf.Tensor): void {
    a.dispose();
  }
}
