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
 * host or (WebGPU) in GPU buffers. Runs never write their inputs, which allows two things here:
 *
 * - a device tensor is cloned by sharing its buffer (counted; freed with the last holder), since
 *   GPU buffers cannot be copied synchronously and their contents never change;
 * - host buffers of released tensors are recycled instead of allocating new ones per step: the
 *   copies of gradients taken when a step is called, and, where the runtime fills preallocated
 *   outputs (onnxruntime-node), every slot's buffer, as the next runs' outputs.
 */
export interface OnnxStorage extends TensorStorage<TensorInput> {
  /** A host buffer of `n` elements for a run's output (recycled when possible; contents undefined). */
  outputBuffer(n: number): Float32Array;
  /** Releases `dependents` together with `t` (per-parameter tensors cut from a flat device buffer). */
  attach(t: OrtTensor, dependents: readonly OrtTensor[]): void;
}

/** At most this many released host buffers of one length wait for reuse. */
const SPARES_PER_LENGTH = 8;

interface Share {
  readonly owner: OrtTensor;
  count: number;
}

export function onnxStorage(ort: OrtModule, location: StateLocation, recycle: boolean): OnnxStorage {
  const spares = new Map<number, Float32Array[]>();
  const own = new WeakSet<Float32Array>();
  const shares = new Map<unknown, Share>();
  const dependents = new WeakMap<OrtTensor, readonly OrtTensor[]>();

  /**
   * A host buffer of `n` elements, a released one when there is one. Buffers the storage may
   * recycle are marked: every buffer where the runtime fills preallocated outputs, else only
   * gradient copies (one per gradient per step).
   */
  const allocate = (n: number, reusable = recycle): Float32Array => {
    const buffer = spares.get(n)?.shift() ?? new Float32Array(n);
    if (reusable) own.add(buffer);
    return buffer;
  };
  const host = (data: Float32Array, dims: readonly number[] = [data.length]) =>
    new ort.Tensor('float32', data, dims);
  const copyOf = (data: Float32Array, reusable = recycle): Float32Array => {
    const copy = allocate(data.length, reusable);
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
    clone: (t) => (onHost(t) ? host(copyOf(hostData(t)), [sizeOf(t)]) : share(t as OrtTensor)),
    zerosLike: (like) => host(new Float32Array(sizeOf(like))),
    fromHost: (values, like) => {
      const data = allocate(sizeOf(like));
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
        if (!own.has(data)) return;
        own.delete(data);
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
      const copy = copyOf(hostData(grad), true);
      return grad instanceof Float32Array ? copy : host(copy, grad.dims);
    },
    concat(parts) {
      const data = allocate(parts.reduce((n, p) => n + sizeOf(p), 0));
      let at = 0;
      for (const part of parts) {
        if (!onHost(part)) throw new Error('onnx storage: parameters are read to the host before concat');
        data.set(hostData(part), at);
        at += sizeOf(part);
      }
      return host(data);
    },
    outputBuffer: (n) => allocate(n),
    attach(t, list) {
      dependents.set(t, [...(dependents.get(t) ?? []), ...list]);
    },
  };
}
