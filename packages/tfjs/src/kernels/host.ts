import { allFinite } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { wasmAllFinite, wasmHeapOf } from './wasm.js';

type Info = tf.TensorInfo;

/**
 * Direct access to the float32 storage of a tfjs backend that keeps tensors in host memory (the
 * `cpu` backend's typed arrays, the `wasm` backend's heap). Kernels registered for these backends
 * read their inputs and write freshly allocated outputs without any copy.
 */
export interface HostAccess {
  /** A view of a float32 tensor's storage. Views into the wasm heap die when the heap grows. */
  view(info: Info): Float32Array;
  /** Allocates an output tensor of the given shape; fill it through {@link view} after all allocations. */
  allocate(shape: number[]): Info;
}

interface CpuLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): Info;
}

interface WasmLike {
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function cpuAccess(backend: CpuLike): HostAccess {
  return {
    view(info) {
      const values = backend.data.get(info.dataId)?.values;
      if (!(values instanceof Float32Array)) throw new Error('expected a float32 tensor on the cpu backend');
      return values;
    },
    allocate: (shape) => backend.makeTensorInfo(shape, 'float32', new Float32Array(sizeOf(shape))),
  };
}

function wasmAccess(backend: WasmLike): HostAccess {
  return {
    view: (info) => backend.typedArrayFromHeap(info),
    allocate: (shape) => backend.makeOutput(shape, 'float32'),
  };
}

/**
 * Host access for a backend instance, or null when its tensors live elsewhere (webgl, webgpu) or it
 * does not look like the tfjs `cpu`/`wasm` backends this package was written against.
 */
export function hostAccessFor(backendName: string, backend: unknown): HostAccess | null {
  const b = backend as Partial<CpuLike & WasmLike> | null;
  if (!b || typeof b !== 'object') return null;
  // Asked for every variable of every step: decided once per backend instance.
  let access = accesses.get(b);
  if (access === undefined) {
    access = null;
    if (backendName === 'cpu' && typeof b.data?.get === 'function' && typeof b.makeTensorInfo === 'function')
      access = cpuAccess(b as CpuLike);
    else if (
      backendName === 'wasm' &&
      typeof b.dataIdMap?.get === 'function' &&
      typeof b.makeOutput === 'function' &&
      typeof b.typedArrayFromHeap === 'function'
    )
      access = wasmAccess(b as WasmLike);
    accesses.set(b, access);
  }
  return access;
}

const accesses = new WeakMap<object, HostAccess | null>();

/** Whether the current backend keeps tensors in host memory this package can read directly. */
export function onHost(): boolean {
  const name = tf.getBackend();
  return (name === 'cpu' || name === 'wasm') && hostAccessFor(name, tf.backend()) !== null;
}

/**
 * True when no element of any tensor is NaN or ±Infinity, checked in one pass over host memory on
 * the cpu and wasm backends (SIMD in the wasm heap; no copy, no sync). Null on other backends.
 */
export function hostAllFinite(tensors: readonly tf.Tensor[]): boolean | null {
  const name = tf.getBackend();
  const backend = tf.backend();
  const access = name === 'cpu' || name === 'wasm' ? hostAccessFor(name, backend) : null;
  if (!access || tensors.some((t) => t.dtype !== 'float32')) return null;
  const heap = name === 'wasm' ? wasmHeapOf(backend) : null;
  if (heap) return wasmAllFinite(heap, tensors);
  return tensors.every((t) => allFinite(access.view(t)));
}
