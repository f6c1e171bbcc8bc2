import type { Input, Texture } from 'gpu.js';

/**
 * The values gpu.js kernels take and return, recognised by shape rather than by class so that this
 * package never loads gpu.js itself (it is a peer: a second copy would break `instanceof`).
 */

/** The pipeline result of a WebGPU kernel (gpu.js's `WebGPUBufferResult`), which its typings lack. */
export interface WebGPUBufferResultLike {
  readonly type: 'WebGPUBuffer';
  readonly output: number[];
  readonly componentCount?: number;
  toArray(): Promise<unknown>;
  clone(): WebGPUBufferResultLike;
  delete(): void;
}

/** A value that lives on the GPU: a WebGL texture or a WebGPU buffer result. */
export type DeviceValue = Texture | WebGPUBufferResultLike;

/** A parameter as users pass it: host data, host data with a shape, or a GPU-resident value. */
export type GpuParamValue = Float32Array | Input | DeviceValue;

/**
 * A gradient as users pass it: anything a parameter can be, plus the nested rows a 2-D or 3-D
 * kernel returns in `cpu` and `webasm` modes.
 */
export type GpuGradValue = GpuParamValue | Float32Array[] | Float32Array[][];

/** Host or device storage of one tensor inside the optimizer. */
export type Resident = Float32Array | DeviceValue;

/** True for a gpu.js texture or WebGPU buffer result. */
export function isDeviceValue(value: unknown): value is DeviceValue {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<Record<'output' | 'toArray' | 'delete' | 'clone', unknown>>;
  return (
    (Array.isArray(v.output) || ArrayBuffer.isView(v.output)) &&
    typeof v.toArray === 'function' &&
    typeof v.delete === 'function' &&
    typeof v.clone === 'function'
  );
}

/** True for a gpu.js `Input` (flat data with a shape). */
export function isInput(value: unknown): value is Input {
  if (value === null || typeof value !== 'object' || isDeviceValue(value)) return false;
  const v = value as Partial<Record<'value' | 'size', unknown>>;
  return ArrayBuffer.isView(v.value) && Array.isArray(v.size);
}

/** The gpu.js shape (x first) of a device value. */
export function deviceShape(value: DeviceValue): number[] {
  return Array.from((value as unknown as { output: ArrayLike<number> }).output);
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Flattens what a kernel or `toArray()` returns (a Float32Array or nested rows) into `out`. */
export function flattenInto(value: unknown, out: Float32Array, offset = 0): number {
  if (ArrayBuffer.isView(value)) {
    const arr = value as unknown as ArrayLike<number>;
    const n = Math.min(arr.length, out.length - offset);
    if (value instanceof Float32Array && n === arr.length) out.set(value, offset);
    else for (let i = 0; i < n; i++) out[offset + i] = arr[i];
    return offset + n;
  }
  if (Array.isArray(value)) {
    for (const row of value) offset = flattenInto(row, out, offset);
    return offset;
  }
  throw new Error(`cannot read a ${describeValue(value)} as numbers`);
}

/** Copies host data into a new Float32Array of `size` elements. */
export function flatHost(value: unknown, size: number): Float32Array {
  const out = new Float32Array(size);
  const filled = flattenInto(value, out);
  if (filled !== size) throw new Error(`expected ${size} values, got ${filled}`);
  return out;
}

/** Number of elements of host data (a typed array or nested rows). */
export function hostLength(value: unknown): number {
  if (ArrayBuffer.isView(value)) return (value as unknown as ArrayLike<number>).length;
  if (Array.isArray(value)) return value.reduce((n: number, row) => n + hostLength(row), 0);
  return Number.NaN;
}

/** True for nested rows of Float32Arrays (the output of a 2-D or 3-D kernel in cpu/webasm modes). */
export function isNestedRows(value: unknown): value is Float32Array[] | Float32Array[][] {
  if (!Array.isArray(value) || value.length === 0) return false;
  const first = value[0];
  return first instanceof Float32Array || isNestedRows(first);
}

/**
 * A flat Float32Array presented with a shape the way gpu.js kernels index it: itself for rank 1,
 * rows of subarray views for rank 2 and 3 (views, not copies).
 */
export function shapedView(
  flat: Float32Array,
  shape: readonly number[],
): Float32Array | Float32Array[] | Float32Array[][] {
  if (shape.length <= 1) return flat;
  const [x, y] = shape;
  const rows = (offset: number) =>
    Array.from({ length: y }, (_, j) => flat.subarray(offset + j * x, offset + (j + 1) * x));
  if (shape.length === 2) return rows(0);
  return Array.from({ length: shape[2] }, (_, k) => rows(k * x * y));
}

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (isDeviceValue(value))
    return `${value.constructor?.name ?? 'GPU value'} of shape [${deviceShape(value).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (Array.isArray(value)) return 'plain Array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
