import { ScheduleFreeError } from '@schedulefree/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { encodeModel, type ModelSpec } from './onnx-model.js';

/**
 * The injected ONNX Runtime module (`onnxruntime-web`, `onnxruntime-web/webgpu` or
 * `onnxruntime-node`): only its `InferenceSession` and `Tensor` are used. Nothing of ONNX Runtime is
 * bundled, so the application's own copy (and its registered backends) is the one that runs.
 */
export interface OrtModule {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: typeof Tensor;
}

/** A float32 `ort.Tensor`, in any location. */
export type OrtTensor = Tensor;

/** What the optimizers accept as a parameter or gradient: a float32 `ort.Tensor` or a `Float32Array`. */
export type TensorInput = OrtTensor | Float32Array;

/** Accepts the module object itself or a namespace whose `default` export is it (CommonJS interop). */
export function resolveOrt(ort: unknown, where: string): OrtModule {
  const candidates = [ort, (ort as { default?: unknown } | null)?.default];
  for (const c of candidates) {
    const m = c as Partial<OrtModule> | null | undefined;
    if (m && typeof m.InferenceSession?.create === 'function' && typeof m.Tensor === 'function') {
      return m as OrtModule;
    }
  }
  throw new ScheduleFreeError(
    'INVALID_OPTION',
    `${where}: the first argument must be the ONNX Runtime module, e.g. \`import * as ort from 'onnxruntime-web'\` (or 'onnxruntime-web/webgpu', 'onnxruntime-node').`,
  );
}

/** True for objects shaped like an `ort.Tensor` (from any copy of onnxruntime-common). */
export function isOrtTensor(value: unknown): value is OrtTensor {
  const t = value as Partial<OrtTensor> | null;
  return (
    t != null &&
    typeof t === 'object' &&
    typeof t.type === 'string' &&
    Array.isArray(t.dims) &&
    typeof t.location === 'string' &&
    typeof t.dispose === 'function'
  );
}

/** Why a value cannot be used as a float32 parameter or gradient, or null if it can. */
export function describeUnusable(value: unknown): string | null {
  if (value instanceof Float32Array) return null;
  if (value instanceof Float64Array) {
    return 'it is a Float64Array; these optimizers run in float32: pass a Float32Array or a float32 ort.Tensor';
  }
  if (isOrtTensor(value)) {
    if (value.type !== 'float32') {
      return `it is a ${value.type} tensor; these optimizers run in float32: pass a float32 ort.Tensor`;
    }
    if (value.location === 'none') return 'the tensor has been disposed';
    if (value.location !== 'cpu' && value.location !== 'cpu-pinned' && value.location !== 'gpu-buffer') {
      return `its data is in '${value.location}'; pass CPU data or a 'gpu-buffer' tensor`;
    }
    return null;
  }
  if (ArrayBuffer.isView(value)) {
    return `it is a ${value.constructor.name}; pass a Float32Array or a float32 ort.Tensor`;
  }
  return `expected a Float32Array or a float32 ort.Tensor, got ${value === null ? 'null' : typeof value}`;
}

/** Number of elements. */
export const sizeOf = (value: TensorInput): number =>
  value instanceof Float32Array ? value.length : (value as OrtTensor).size;

/** Dimensions (a Float32Array is 1-D). */
export const dimsOf = (value: TensorInput): readonly number[] =>
  value instanceof Float32Array ? [value.length] : (value as OrtTensor).dims;

/** Whether the data is in host memory. */
export const onHost = (value: TensorInput): boolean =>
  value instanceof Float32Array || value.location === 'cpu' || value.location === 'cpu-pinned';

/** The host data of a tensor on the host, without a copy. */
export const hostData = (value: TensorInput): Float32Array =>
  value instanceof Float32Array ? value : ((value as OrtTensor).data as Float32Array);

/**
 * The same data as a 1-D tensor of `size` elements, without copying: host arrays are wrapped,
 * device buffers get a second view that does not own (or free) the buffer.
 */
export function flatTensor(ort: OrtModule, value: TensorInput, size: number): OrtTensor {
  if (onHost(value)) return new ort.Tensor('float32', hostData(value), [size]);
  const t = value as OrtTensor;
  if (t.dims.length === 1) return t;
  return ort.Tensor.fromGpuBuffer(t.gpuBuffer, { dataType: 'float32', dims: [size] });
}

/** A 0-d float32 tensor (per-step scalars are rounded once, from the host's float64 value). */
export const scalarTensor = (ort: OrtModule, value: number): OrtTensor =>
  new ort.Tensor('float32', Float32Array.of(value), []);

/** A readable name for the execution providers of a session options object. */
export function providerNames(options: InferenceSession.SessionOptions): string {
  const eps = options.executionProviders ?? [];
  if (eps.length === 0) return "the runtime's default execution provider";
  const names = eps.map((ep) => (typeof ep === 'string' ? ep : ep.name));
  return `execution provider${names.length > 1 ? 's' : ''} ${names.map((n) => `'${n}'`).join(', ')}`;
}

/** The last session creation started through each runtime's `InferenceSession` (see {@link createSession}). */
const creations = new WeakMap<object, Promise<void>>();

/** Creates a session, turning a runtime failure into an error that names the provider and the reason. */
export async function createSession(
  ort: OrtModule,
  model: ModelSpec | Uint8Array,
  options: InferenceSession.SessionOptions,
  where: string,
): Promise<InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  // onnxruntime-web creates one WebGPU session at a time ("another WebGPU EP inference session is
  // being created"): creations through one runtime wait for the previous one, whoever asked.
  const previous = creations.get(ort.InferenceSession) ?? Promise.resolve();
  const creation = previous.then(() => ort.InferenceSession.create(bytes, options));
  creations.set(
    ort.InferenceSession,
    creation.then(
      () => undefined,
      () => undefined,
    ),
  );
  try {
    return await creation;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ScheduleFreeError(
      'UNSUPPORTED',
      `${where}: ONNX Runtime could not create a session on ${providerNames(options)}: ${reason}. ` +
        "Check that this provider is available here (e.g. 'webgpu' needs `import * as ort from 'onnxruntime-web/webgpu'` in a browser with WebGPU) or pass executionProviders: ['wasm'].",
    );
  }
}
