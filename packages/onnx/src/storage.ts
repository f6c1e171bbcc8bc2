import { allFinite, type TensorStorage } from '@schedulefree/core';
import type { StateLocation } from './options.js';
import {
  describeUnusable,
  hostData,
  isOrtTensor,
  type OrtModule,
  type OrtTensor,
  onHost,
  sizeOf,
  type TensorInput,
} from './runtime.js';

/**
 * The engine's storage over `ort.Tensor`s: each group's slots are flat 1-D float32 tensors, on the
 * host or (WebGPU) in GPU buffers. Runs never write their inputs: each output is a new tensor from
 * the runtime. So a device tensor is cloned by sharing its buffer (counted; freed with the last
 * holder), since GPU buffers cannot be copied synchronously and their contents never change.
 * Host gradients are copied when a call is made (the caller may refill them), into buffers
 * recycled from earlier copies.
 */
export interface OnnxStorage extends TensorStorage<TensorInput> {
  /** Releases `dependents` together with `t` (per-parameter tensors cut from a flat device buffer). */
  attach(t: OrtTensor, dependents: readonly OrtTensor[]): void;
}

/** At most this many released gradient copies of one length wait for reuse. */
const SPARES_PER_LENGTH = 8;

interface Share {
  readonly owner: OrtTensor;
  count: number;
}

export function onnxStorage(ort: OrtModule, location: StateLocation): OnnxStorage {
  const spares = new Map<number, Float32Array[]>();
  const copies = new WeakSet<Float32Array>();
  const shares = new Map<unknown, Share>();
  const dependents = new WeakMap<OrtTensor, readonly OrtTensor[]>();

  const host = (data: Float32Array, dims: readonly number[] = [data.length]) =>
    new ort.Tensor('float32', data, dims);
  /** A copy of a gradient, in a released copy's buffer when there is one. */
  const copyOf = (data: Float32Array): Float32Array => {
    const copy = spares.get(data.length)?.shift() ?? new Float32Array(data.length);
    copies.add(copy);
    copy.set(data);
    return copy;
  };

  const unshare = (buffer: unknown): void => {
    const share = shares.get(buffer)!;
    if (--share.count > 0) return;
    shares.delete(buffer);
    share.owner.dispose();
  };
  /** A second tensor over a device tensor's buffer, disposable on its own. */
  const share = (t: OrtTensor): OrtTensor => {
    const buffer = t.gpuBuffer;
    let entry = shares.get(buffer);
    if (!entry) {
      entry = { owner: t, count: 1 };
      shares.set(buffer, entry);
    }
    entry.count++;
    const { owner } = entry;
    return ort.Tensor.fromGpuBuffer(buffer, {
      dataType: 'float32',
      dims: t.dims,
      download: () => owner.getData() as Promise<Float32Array>,
      dispose: () => unshare(buffer),
    });
  };

  return {
    accepts: (value): value is TensorInput =>
      isOrtTensor(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView)),
    size: sizeOf,
    clone: (t) => (onHost(t) ? host(hostData(t).slice(), [sizeOf(t)]) : share(t as OrtTensor)),
    zerosLike: (like) => host(new Float32Array(sizeOf(like))),
    fromHost: (values, like) => {
      const data = new Float32Array(sizeOf(like));
      data.set(values);
      return host(data);
    },
    assign(dst, src) {
      if (!onHost(dst) || !onHost(src)) throw new Error('onnx storage: only host tensors are assigned');
      hostData(dst).set(hostData(src));
    },
    read: (t) => (onHost(t) ? hostData(t) : ((t as OrtTensor).getData() as Promise<Float32Array>)),
    allFinite: (t) => (onHost(t) ? allFinite(hostData(t)) : null),
    dispose(t) {
      if (t instanceof Float32Array || onHost(t)) {
        const data = hostData(t);
        if (!copies.has(data)) return;
        copies.delete(data);
        const list = spares.get(data.length) ?? [];
        if (list.length < SPARES_PER_LENGTH) list.push(data);
        spares.set(data.length, list);
        return;
      }
      const device = t as OrtTensor;
      for (const d of dependents.get(device) ?? []) d.dispose();
      dependents.delete(device);
      if (device.location !== 'gpu-buffer') return;
      const entry = shares.get(device.gpuBuffer);
      if (entry?.owner === device) unshare(device.gpuBuffer);
      else device.dispose();
    },
    describeGradient: (_param, grad) =>
      describeUnusable(grad) ??
      (onHost(grad) || location === 'gpu-buffer'
        ? null
        : `it is a 'gpu-buffer' tensor, but this optimizer runs on the CPU; pass host data, or create the optimizer with executionProviders: ['webgpu']`),
    capture(grad) {
      if (describeUnusable(grad) !== null || !onHost(grad)) return grad;
      const copy = copyOf(hostData(grad));
      return grad instanceof Float32Array ? copy : host(copy, grad.dims);
    },
    concat(parts) {
      const data = new Float32Array(parts.reduce((n, p) => n + sizeOf(p), 0));
      let at = 0;
      for (const part of parts) {
        if (!onHost(part)) throw new Error('onnx storage: parameters are read to the host before concat');
        data.set(hostData(part), at);
        at += sizeOf(part);
      }
      return host(data);
    },
    attach(t, list) {
      dependents.set(t, [...(dependents.get(t) ?? []), ...list]);
    },
  };
}
