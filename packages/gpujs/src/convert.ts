import { check, ScheduleFreeError } from '@schedulefree/core';
import type { GpuRuntime } from './runtime.js';
import { GpuTensor } from './tensor.js';
import {
  type DeviceValue,
  describeValue,
  deviceShape,
  flatHost,
  hostLength,
  isDeviceValue,
  isInput,
  isNestedRows,
  shapeSize,
} from './values.js';

/** A parameter checked and ready to become a tensor: its shape and where its values come from. */
export interface ParamSource {
  /** The parameter's name. */
  readonly name: string;
  /** The shape of the tensor: the user's shape on the GPU, flat `[n]` for host storage. */
  readonly shape: readonly number[];
  /** The shape the user gave (an `input()`'s size, a texture's output). */
  readonly userShape: readonly number[];
  readonly source: Float32Array | DeviceValue;
}

/** Texture types holding one float per element (not the `Array(k)` textures of packed kernels). */
const SCALAR_TEXTURE_TYPES = new Set([
  'NumberTexture',
  'ArrayTexture(1)',
  'MemoryOptimizedNumberTexture',
  'WebGPUBuffer',
]);

const FLOAT32_HINT =
  'gpu.js computes in float32: pass a Float32Array (e.g. Float32Array.from(values)), input(values, [x, y]) for a shaped one, or a texture from one of your kernels';

/** Why a device value cannot be used on this runtime, or null. */
function deviceProblem(value: DeviceValue, runtime: GpuRuntime): string | null {
  const type = String((value as { type?: unknown }).type ?? '');
  if (runtime.residence === 'host') {
    return `it is a ${type || 'GPU value'}, but this GPU runs kernels in ${runtime.mode} mode, where tensors are Float32Arrays; pass a Float32Array`;
  }
  if ((type === 'WebGPUBuffer') !== (runtime.mode === 'webgpu')) {
    return `it is a ${type}, which ${runtime.mode} kernels cannot read; create it with the GPU instance given to the optimizer`;
  }
  if (!SCALAR_TEXTURE_TYPES.has(type) || ((value as { componentCount?: number }).componentCount ?? 1) !== 1) {
    return `it is a ${type} holding several values per element; pass a kernel output with one number per element`;
  }
  return null;
}

/** Checks one parameter and says where its values come from. Throws `INVALID_PARAMS` naming it. */
export function paramSource(where: string, name: string, value: unknown, runtime: GpuRuntime): ParamSource {
  const fail = (why: string): never => {
    throw new ScheduleFreeError('INVALID_PARAMS', `${where}: parameter "${name}" ${why}.`);
  };
  let shape: number[];
  let source: Float32Array | DeviceValue;
  if (value instanceof Float32Array) {
    shape = [value.length];
    source = value;
  } else if (isInput(value)) {
    if (!(value.value instanceof Float32Array))
      fail(`is an input() over a ${describeValue(value.value)}; ${FLOAT32_HINT}`);
    shape = Array.from(value.size as ArrayLike<number>);
    source = value.value as unknown as Float32Array;
    if (shapeSize(shape) !== source.length) {
      fail(
        `is an input() of size [${shape.join(', ')}] over ${source.length} values; the size must cover them exactly`,
      );
    }
  } else if (isDeviceValue(value)) {
    const problem = deviceProblem(value, runtime);
    if (problem) fail(`cannot be used: ${problem}`);
    shape = deviceShape(value);
    source = value;
  } else {
    return fail(`is a ${describeValue(value)}; ${FLOAT32_HINT}`);
  }
  if (shapeSize(shape) === 0) fail('has no elements');
  const problem = runtime.capacityProblem(shape);
  if (problem) fail(`is too large for one ${runtime.mode} tensor: ${problem}`);
  return { name, shape: runtime.residence === 'host' ? [shapeSize(shape)] : shape, userShape: shape, source };
}

/**
 * Checks a record of parameters and makes their tensors, not filled yet (before any GPU work);
 * `sources` learns where each tensor's values come from. Throws `INVALID_PARAMS` naming the culprit,
 * also for a value given under two names (here, earlier in `sources`, or in `taken`: the parameters
 * the optimizer has already), which each step would update once per name.
 */
export function paramTensors(
  where: string,
  record: unknown,
  runtime: GpuRuntime,
  sources: Map<GpuTensor, ParamSource>,
  taken: readonly ParamSource[] = [],
): Record<string, GpuTensor> {
  check(
    record !== null && typeof record === 'object',
    'INVALID_PARAMS',
    () =>
      `${where}: params must be a record name → Float32Array | input() | texture, or an array of groups { params, ...options }.`,
  );
  const out: Record<string, GpuTensor> = {};
  for (const [name, value] of Object.entries(record as Record<string, unknown>)) {
    const src = paramSource(where, name, value, runtime);
    for (const other of [...taken, ...sources.values()]) {
      check(
        !sharesMemory(src.source, other.source),
        'INVALID_PARAMS',
        () =>
          `${where}: parameters "${other.name}" and "${name}" are the same ${src.source instanceof Float32Array ? 'memory (one Float32Array, or views overlapping in one buffer)' : 'GPU value'}; it would be updated once for each name every step. Pass each parameter once, or give each its own copy (e.g. ${name}: ${other.name}.slice()).`,
      );
    }
    out[name] = runtime.paramTensor(src.source instanceof Float32Array ? src.source : null, src.shape);
    sources.set(out[name], src);
  }
  return out;
}

/** Whether two parameter sources are one value, or host arrays overlapping in one buffer. */
function sharesMemory(a: Float32Array | DeviceValue, b: Float32Array | DeviceValue): boolean {
  if (a === b) return true;
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array) || a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Converts a record of user gradients to tensors shaped like their parameters. Host data keeps its
 * buffer (it is only read, and copied if the step runs later); nested rows are flattened into a
 * private copy. Unknown names and missing gradients are left for the engine, which reports them with
 * the names of every parameter.
 */
export function gradientTensors(
  where: string,
  grads: unknown,
  params: Readonly<Record<string, GpuTensor>>,
  runtime: GpuRuntime,
): Record<string, GpuTensor | null> {
  check(
    grads !== null && typeof grads === 'object' && !ArrayBuffer.isView(grads) && !Array.isArray(grads),
    'MISSING_GRAD',
    () => `${where}: expected a record of gradients keyed by parameter name, got ${describeValue(grads)}.`,
  );
  const out: Record<string, GpuTensor | null> = {};
  for (const [name, value] of Object.entries(grads as Record<string, unknown>)) {
    const param = Object.hasOwn(params, name) ? params[name] : undefined;
    if (!param) {
      out[name] = new GpuTensor([0], null, false); // the engine names it as unknown
      continue;
    }
    if (value === undefined) continue; // the engine names it as missing
    if (value === null) {
      out[name] = null; // no gradient this step: the parameter stays as it is
      continue;
    }
    out[name] = gradientTensor(where, name, value, param, runtime);
  }
  return out;
}

function gradientTensor(
  where: string,
  name: string,
  value: unknown,
  param: GpuTensor,
  runtime: GpuRuntime,
): GpuTensor {
  const fail = (code: 'DTYPE_MISMATCH' | 'SHAPE_MISMATCH', why: string): never => {
    throw new ScheduleFreeError(code, `${where}: gradient "${name}" ${why}.`);
  };
  // A wrong element count keeps its own size, so the engine reports it in its usual words.
  const sized = (n: number) => (n === param.size ? param.shape : [n]);
  if (value instanceof Float32Array) return new GpuTensor(sized(value.length), value, false);
  if (isInput(value)) {
    if (!(value.value instanceof Float32Array))
      fail('DTYPE_MISMATCH', `is an input() over a ${describeValue(value.value)}; ${FLOAT32_HINT}`);
    const data = value.value as unknown as Float32Array;
    return new GpuTensor(sized(data.length), data, false);
  }
  if (isNestedRows(value)) {
    const n = hostLength(value);
    return new GpuTensor(sized(n), flatHost(value, n), true);
  }
  if (isDeviceValue(value)) {
    const problem = deviceProblem(value, runtime);
    if (problem) fail('DTYPE_MISMATCH', `cannot be used: ${problem}`);
    const shape = deviceShape(value);
    if (shape.join() !== param.shape.join()) {
      if (shapeSize(shape) !== param.size) return new GpuTensor(shape, value, false);
      fail(
        'SHAPE_MISMATCH',
        `has shape [${shape.join(', ')}] but the parameter has [${param.shape.join(', ')}]; give the gradient kernel output [${param.shape.join(', ')}]`,
      );
    }
    return new GpuTensor(param.shape, value, false);
  }
  return fail('DTYPE_MISMATCH', `is a ${describeValue(value)}; ${FLOAT32_HINT}`);
}
