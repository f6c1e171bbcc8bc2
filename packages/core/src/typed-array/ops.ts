import { TENSOR_OPS_SPEC_VERSION, type TensorOps } from '../tensor-ops.js';

/** The tensor type of the core backend: a flat Float32Array or Float64Array. */
export type TypedArray = Float32Array | Float64Array;

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
const ctorOf = (a: TypedArray) => a.constructor as Ctor;

function map2(a: TypedArray, b: TypedArray, f: (x: number, y: number) => number): TypedArray {
  const out = new (ctorOf(a))(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], b[i]);
  return out;
}

function map1(a: TypedArray, f: (x: number) => number): TypedArray {
  const out = new (ctorOf(a))(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]);
  return out;
}

/**
 * Eager {@link TensorOps} over typed arrays: every operation allocates its result with the element
 * type of its first argument, so float32 arrays round after every operation exactly as a float32
 * tensor library does. Used as the reference eager backend and by the IR interpreter; the optimizers
 * themselves use the fused loop (see `backend.ts`).
 */
export class TypedArrayOps implements TensorOps<TypedArray, number> {
  readonly specVersion = TENSOR_OPS_SPEC_VERSION;
  readonly name = 'typed-array';

  add = (a: TypedArray, b: TypedArray) => map2(a, b, (x, y) => x + y);
  sub = (a: TypedArray, b: TypedArray) => map2(a, b, (x, y) => x - y);
  mul = (a: TypedArray, b: TypedArray) => map2(a, b, (x, y) => x * y);
  div = (a: TypedArray, b: TypedArray) => map2(a, b, (x, y) => x / y);
  sqrt = (a: TypedArray) => map1(a, Math.sqrt);
  abs = (a: TypedArray) => map1(a, Math.abs);
  addScalar = (a: TypedArray, s: number) => map1(a, (x) => x + s);
  mulScalar = (a: TypedArray, s: number) => map1(a, (x) => x * s);
  divScalar = (a: TypedArray, s: number) => map1(a, (x) => x / s);
  lerp = (a: TypedArray, b: TypedArray, w: number) =>
    Math.abs(w) < 0.5 ? map2(a, b, (x, y) => x + w * (y - x)) : map2(a, b, (x, y) => y - (y - x) * (1 - w));

  size = (a: TypedArray) => a.length;
  clone = (a: TypedArray) => a.slice();
  zerosLike = (a: TypedArray) => new (ctorOf(a))(a.length);
  assign = (dst: TypedArray, src: TypedArray) => dst.set(src);
  read = (a: TypedArray) => a.slice();
  write = (dst: TypedArray, values: ArrayLike<number>) => dst.set(values);
  allFinite(a: TypedArray): boolean {
    return allFinite(a);
  }
  dispose(): void {}
}

/**
 * True when every element is finite. x·0 is 0 for finite x and NaN for NaN or ±Infinity, so a sum
 * tells; four independent sums keep the adds from waiting on each other (this runs every step).
 */
export function allFinite(a: ArrayLike<number>): boolean {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n = a.length;
  const whole = n - (n % 4);
  let i = 0;
  for (; i < whole; i += 4) {
    a0 += a[i] * 0;
    a1 += a[i + 1] * 0;
    a2 += a[i + 2] * 0;
    a3 += a[i + 3] * 0;
  }
  for (; i < n; i++) a0 += a[i] * 0;
  return a0 + a1 + a2 + a3 === 0;
}

/** True for the array types the core backend accepts. */
export function isTypedArray(value: unknown): value is TypedArray {
  return value instanceof Float32Array || value instanceof Float64Array;
}
