import type { Graph } from '@schedulefree/core';
import { ScheduleFreeError } from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { acquireKernel, type CachedKernel, releaseKernel } from './kernel-cache.js';
import { capacityProblem, type DeviceLimits, isGLMode } from './limits.js';
import { type LoweredKernel, lowerGraph, scalarArgumentValue } from './lower.js';
import { isPromiseLike, type MaybePromise, WorkQueue } from './queue.js';
import { GpuTensor } from './tensor.js';
import { type DeviceValue, flatHost, isDeviceValue, type Resident, shapedView } from './values.js';

/**
 * How a step's outputs come out of gpu.js:
 * - `map`: one `createKernelMap` writing every output in one pass (default in WebGL modes);
 * - `single`: one kernel per output (default in `webgpu`, which has no kernel maps, and in `cpu` and
 *   `webasm`, where it is the faster form: webasm has no kernel maps, and `Array(k)` results come
 *   back as one small array per element).
 */
export type KernelStyle = 'map' | 'single';

/** Options of the gpu.js execution, shared by every optimizer class. */
export interface GpuJsRuntimeOptions {
  /** Override the output style (mainly for tests). */
  kernelStyle?: KernelStyle;
  /**
   * WebGL modes: store four float32 values per texel (gpu.js `optimizeFloatMemory`): a quarter of
   * the memory of one value per RGBA texel, and four times the largest tensor. Default true.
   */
  optimizeFloatMemory?: boolean;
  /**
   * Create kernels with gpu.js's `asyncMode`: every kernel call returns a promise (the contract
   * gpu.js v3 announces as its default). Steps then complete when their promise resolves. In
   * `webasm` mode this also lets gpu.js run large kernels on its worker pool.
   */
  asyncKernels?: boolean;
}

/** A kernel function as gpu.js returns it (run shortcut), with the fields this package reads. */
type KernelFn = ((...args: unknown[]) => unknown) & {
  kernel?: { constructor: KernelClass };
  fallbackReason?: string | null;
  destroy?: (removeCanvasReferences?: boolean) => void;
};

interface GpuLike {
  readonly mode?: string;
  readonly Kernel?: (KernelClass & { readonly features?: Record<string, unknown> }) | null;
  createKernel(source: string, settings: object): unknown;
  createKernelMap(subKernels: Record<string, string>, root: string, settings: object): unknown;
}

interface CompiledKernel {
  readonly lowered: LoweredKernel;
  fn: KernelFn | null;
}

const HOST_MODES = new Set(['cpu', 'webasm']);
const NAMED_MODES = new Set(['webgl2', 'webgl', 'headlessgl', 'webgpu', 'webasm', 'cpu']);
const GL_CLASSES: Record<string, string> = {
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  HeadlessGLKernel: 'headlessgl',
};

type KernelClass = { readonly mode?: string; readonly name?: string };

/**
 * The backend a kernel class runs on. gpu.js's GL kernel classes all call their mode `gpu`; tell
 * them apart by class (`webgl` where a minified build renamed it).
 */
function backendOf(Kernel: KernelClass | undefined, requested?: string): string | undefined {
  if (requested && NAMED_MODES.has(requested)) return requested;
  const mode = Kernel?.mode;
  if (mode !== 'gpu') return mode;
  return GL_CLASSES[Kernel?.name ?? ''] ?? 'webgl';
}

/**
 * Everything that touches gpu.js for one optimizer: the backend mode, the generated kernels (built
 * once per program structure and parameter shape, reused every step and shared with the other
 * optimizers on the same GPU), storage helpers and the ordered work queue. {@link destroy} lets go
 * of the kernels.
 */
export class GpuRuntime {
  /** The backend the kernels run on (`webgl2`, `webgl`, `headlessgl`, `webgpu`, `webasm`, `cpu`). */
  readonly mode: string;
  /** `host`: tensors are Float32Arrays updated in place; `device`: textures or WebGPU buffers. */
  readonly residence: 'host' | 'device';
  readonly style: KernelStyle;
  readonly limits: DeviceLimits;
  readonly queue = new WorkQueue();
  /** Backend modes kernels actually ran in: a kernel that gpu.js moved to cpu shows up here. */
  readonly observedModes = new Set<string>();
  private readonly gpu: GpuLike;
  private readonly asyncKernels: boolean;
  private readonly optimizeFloatMemory: boolean;
  private readonly maxResults: number;
  private readonly kernels = new Map<string, CompiledKernel[]>();
  private readonly helpers = new Map<string, KernelFn>();
  /** Keys of the shared kernels this runtime uses, released by {@link destroy}. */
  private readonly acquired: string[] = [];
  private warnedFallback = false;

  constructor(gpu: GPU, options: GpuJsRuntimeOptions, where: string) {
    const g = gpu as unknown as GpuLike;
    const fail = (message: string): never => {
      throw new ScheduleFreeError('UNSUPPORTED', `${where}: ${message}`);
    };
    if (!g || typeof g.createKernel !== 'function' || typeof g.createKernelMap !== 'function') {
      fail(
        'the first argument must be a gpu.js GPU instance, e.g. new GPU() or new GPU({ mode: "webgl2" }).',
      );
    }
    if (g.mode === 'dev')
      fail('gpu.js "dev" mode runs kernels as plain JavaScript without types; use mode "cpu".');
    if (g.mode === 'async') {
      fail(
        'gpu.js mode "async" may move kernels between backends after the first call; pass an explicit mode ' +
          '(e.g. new GPU({ mode: "webgpu" }) or "webgl2"), and { asyncKernels: true } for promise-returning kernels.',
      );
    }
    const mode = backendOf(g.Kernel ?? undefined, g.mode);
    if (typeof mode !== 'string') fail('this GPU instance has no backend (gpu.Kernel is not set).');
    this.gpu = g;
    this.mode = mode as string;
    this.residence = HOST_MODES.has(this.mode) ? 'host' : 'device';
    const features = (g.Kernel?.features ?? {}) as Record<string, unknown>;
    if (this.residence === 'device' && features.isTextureFloat === false) {
      fail(
        `this ${this.mode} context cannot store float32 textures, which the optimizer state needs; use mode "webasm".`,
      );
    }
    const kernelMaps = features.kernelMap === true && this.mode !== 'webasm' && this.mode !== 'webgpu';
    const style = options.kernelStyle ?? (kernelMaps && isGLMode(this.mode) ? 'map' : 'single');
    if (style !== 'map' && style !== 'single') {
      throw new ScheduleFreeError(
        'INVALID_OPTION',
        `${where}: option "kernelStyle" must be 'map' or 'single', got ${JSON.stringify(style)}.`,
      );
    }
    if (style === 'map' && !kernelMaps) {
      fail(
        `kernel maps are not available in ${this.mode} mode${this.mode === 'webasm' ? ' (gpu.js would silently fall back to cpu)' : ''}; use kernelStyle 'single'.`,
      );
    }
    this.style = style;
    this.asyncKernels = options.asyncKernels === true;
    // One result from the root plus sub-kernels; four draw buffers are available everywhere.
    this.maxResults = style === 'map' ? 4 : 1;
    const maxTextureSize = Number(features.maxTextureSize);
    this.optimizeFloatMemory = isGLMode(this.mode) && options.optimizeFloatMemory !== false;
    this.limits = {
      mode: this.mode,
      maxTextureSize: Number.isFinite(maxTextureSize) ? maxTextureSize : Infinity,
      optimizeFloatMemory: this.optimizeFloatMemory,
    };
  }

  /** Why a tensor of this shape cannot be stored here, or null. */
  capacityProblem(shape: readonly number[]): string | null {
    return this.residence === 'host' ? null : capacityProblem(shape, this.limits);
  }

  /**
   * The handle a parameter starts as: the user's host array itself in `host` residence (steps update
   * it in place, as the core's Float32Array optimizers do), or an empty device tensor that {@link load}
   * fills with a private copy.
   */
  paramTensor(data: Float32Array | null, shape: readonly number[]): GpuTensor {
    if (this.residence === 'host' && data) return new GpuTensor([data.length], data, false);
    return new GpuTensor(shape, null, true);
  }

  /**
   * Fills a device tensor with a copy of host data or of a device value (a copy, so that later runs
   * of the user's own kernels cannot write into the optimizer's state).
   */
  load(t: GpuTensor, source: Float32Array | DeviceValue): void {
    if (t.value !== null) return;
    const arg = source instanceof Float32Array ? shapedView(source, t.shape) : source;
    this.produce(t, () => this.copyKernel(t.shape)(arg) as MaybePromise<Resident>);
  }

  /** Runs a traced program over one parameter's slots, replacing the output slots' values. */
  run(
    graph: Graph,
    slots: Readonly<Record<string, GpuTensor>>,
    scalars: Readonly<Record<string, number>>,
  ): void {
    const shape = slots.param.shape;
    const kernels = this.kernelsFor(graph, shape);
    this.queue.run(() => {
      const calls = kernels.map((k) => this.call(k, slots, scalars, shape));
      const commit = (values: unknown[]) => this.commit(kernels, values, slots);
      return calls.some((c) => isPromiseLike(c)) ? Promise.all(calls).then(commit) : commit(calls);
    });
  }

  /** A new tensor with the same contents (device values are shared: kernels never write into them). */
  clone(src: GpuTensor): GpuTensor {
    const t = new GpuTensor(src.shape, null, true);
    this.queue.run(() => {
      t.value = this.share(this.valueOf(src));
    });
    return t;
  }

  /** A new zero-filled tensor of the given shape. */
  zeros(shape: readonly number[]): GpuTensor {
    if (this.residence === 'host') {
      const size = shape.reduce((a, b) => a * b, 1);
      return new GpuTensor([size], new Float32Array(size), true);
    }
    const t = new GpuTensor(shape, null, true);
    this.produce(t, () => this.zerosKernel(shape)(0) as MaybePromise<Resident>);
    return t;
  }

  /** Overwrites `dst` with the contents of `src`. */
  assign(dst: GpuTensor, src: GpuTensor): void {
    this.queue.run(() => {
      const value = this.valueOf(src);
      if (value instanceof Float32Array && dst.value instanceof Float32Array) dst.value.set(value);
      else this.replace(dst, this.share(value));
    });
  }

  /** Overwrites `dst` from host values. */
  write(dst: GpuTensor, values: ArrayLike<number>): void {
    const data = Float32Array.from(values);
    this.queue.run(() => {
      if (dst.value instanceof Float32Array) {
        dst.value.set(data);
        return;
      }
      const produced = this.copyKernel(dst.shape)(shapedView(data, dst.shape)) as MaybePromise<Resident>;
      return then(produced, (v) => this.replace(dst, v));
    });
  }

  /**
   * Releases what the tensor holds, once earlier work that reads it has run. After a failure of
   * asynchronous work nothing more runs, so the handle is just dropped.
   */
  release(t: GpuTensor): void {
    if (this.queue.failed) {
      t.value = null;
      return;
    }
    this.queue.run(() => {
      if (t.owned && t.value) releaseValue(t.value);
      t.value = null;
      t.hostCopy = null;
    });
  }

  /** The contents as a new Float32Array, synchronously (host data, or WebGL textures). */
  read(t: GpuTensor): Float32Array {
    if (t.hostCopy) return t.hostCopy.slice();
    if (!this.queue.idle) throw new Error('internal error: synchronous read while GPU work is pending');
    const value = this.valueOf(t);
    if (value instanceof Float32Array) return value.slice();
    const data = value.toArray();
    if (isPromiseLike(data)) {
      throw new Error(`internal error: ${this.mode} values can only be read asynchronously`);
    }
    return flatHost(data, t.size);
  }

  /** The contents as a new Float32Array, after all scheduled work. */
  async fetch(t: GpuTensor): Promise<Float32Array> {
    await this.queue.flush();
    const value = this.valueOf(t);
    if (value instanceof Float32Array) return value.slice();
    return flatHost(await value.toArray(), t.size);
  }

  /** Lets go of every kernel this runtime used (shared kernels stay for their other users). */
  destroy(): void {
    this.kernels.clear();
    this.helpers.clear();
    for (const key of this.acquired.splice(0)) releaseKernel(this.gpu, key);
  }

  private kernelsFor(graph: Graph, shape: readonly number[]): CompiledKernel[] {
    const key = `${graph.key}|${shape.join('x')}`;
    let kernels = this.kernels.get(key);
    if (!kernels) {
      const rank = Math.min(Math.max(shape.length, 1), 3) as 1 | 2 | 3;
      const lowered = lowerGraph(graph, { style: this.style, rank, maxResults: this.maxResults });
      kernels = lowered.map((l) => ({ lowered: l, fn: null }));
      this.kernels.set(key, kernels);
    }
    return kernels;
  }

  private call(
    k: CompiledKernel,
    slots: Readonly<Record<string, GpuTensor>>,
    scalars: Readonly<Record<string, number>>,
    shape: readonly number[],
  ): unknown {
    const args = k.lowered.args.map((a) =>
      a.kind === 'tensor' ? this.kernelArgument(slots[a.slot]) : scalarArgumentValue(a, scalars),
    );
    if (!k.fn) {
      const settings = this.settings(
        shape,
        k.lowered.returnType,
        k.lowered.args.map((a, i) => (a.kind === 'scalar' ? 'Float' : argumentType(args[i]))),
      );
      const subs = k.lowered.subKernels;
      k.fn = this.kernel(shape, { source: k.lowered.source, subs, settings }, () =>
        Object.keys(subs).length > 0
          ? this.gpu.createKernelMap(subs, k.lowered.source, settings)
          : this.gpu.createKernel(k.lowered.source, settings),
      );
    }
    const out = k.fn(...args);
    this.observe(k.fn);
    return out;
  }

  private commit(
    kernels: readonly CompiledKernel[],
    values: readonly unknown[],
    slots: Readonly<Record<string, GpuTensor>>,
  ): void {
    const released: Resident[] = [];
    kernels.forEach((k, i) => {
      const mapped = Object.keys(k.lowered.subKernels).length > 0;
      for (const r of k.lowered.results) {
        const raw = mapped ? (values[i] as Record<string, unknown>)[r.key] : values[i];
        const value = toResident(raw, slots.param.size);
        r.slots.forEach((slot, j) => this.store(slots[slot], j === 0 ? value : this.share(value), released));
      }
    });
    // Only now: every kernel of this step has read the old values.
    for (const old of released) releaseValue(old);
  }

  /** Puts a kernel result into a tensor: in place into a user's host array, otherwise by replacement. */
  private store(t: GpuTensor, value: Resident, released: Resident[]): void {
    if (!t.owned && t.value instanceof Float32Array && value instanceof Float32Array) {
      t.value.set(value);
      return;
    }
    if (t.owned && t.value) released.push(t.value);
    t.value = value;
    t.owned = true;
    t.hostCopy = null;
  }

  private replace(t: GpuTensor, value: Resident): void {
    const released: Resident[] = [];
    this.store(t, value, released);
    for (const old of released) releaseValue(old);
  }

  private produce(t: GpuTensor, make: () => MaybePromise<Resident>): void {
    this.queue.run(() =>
      then(make(), (v) => {
        t.value = toResident(v, t.size);
      }),
    );
  }

  private share(value: Resident): Resident {
    return value instanceof Float32Array ? value.slice() : (value.clone() as Resident);
  }

  private valueOf(t: GpuTensor): Resident {
    if (!t.value) throw new Error('internal error: a tensor was used after it was released');
    return t.value;
  }

  private kernelArgument(t: GpuTensor): unknown {
    const value = this.valueOf(t);
    return value instanceof Float32Array ? shapedView(value, t.shape) : value;
  }

  /** A kernel from the GPU's shared cache, keyed by everything that goes into building it. */
  private kernel(shape: readonly number[], spec: object, build: () => unknown): KernelFn {
    const key = JSON.stringify(spec);
    this.acquired.push(key);
    const elements = shape.reduce((a, b) => a * b, 1);
    return acquireKernel(this.gpu, key, elements, build as () => CachedKernel) as KernelFn;
  }

  private settings(shape: readonly number[], returnType: string, argumentTypes: string[]): object {
    return {
      output: [...shape],
      pipeline: true,
      immutable: true,
      precision: 'single',
      returnType,
      argumentTypes,
      ...(isGLMode(this.mode) ? { tactic: 'precision', optimizeFloatMemory: this.optimizeFloatMemory } : {}),
      ...(this.asyncKernels ? { asyncMode: true } : {}),
    };
  }

  private helper(kind: 'copy' | 'zeros', shape: readonly number[], sample: unknown): KernelFn {
    const key = `${kind}|${shape.join('x')}|${argumentType(sample)}`;
    let fn = this.helpers.get(key);
    if (!fn) {
      const index = [
        '[this.thread.x]',
        '[this.thread.y][this.thread.x]',
        '[this.thread.z][this.thread.y][this.thread.x]',
      ][Math.min(shape.length, 3) - 1];
      const source =
        kind === 'copy' ? `function (a) {\n  return a${index};\n}` : 'function (s) {\n  return s;\n}';
      const types = kind === 'copy' ? [argumentType(sample)] : ['Float'];
      const settings = this.settings(shape, 'Float', types);
      fn = this.kernel(shape, { source, settings }, () => this.gpu.createKernel(source, settings));
      this.helpers.set(key, fn);
    }
    return fn;
  }

  private copyKernel(shape: readonly number[]): (arg: unknown) => unknown {
    return (arg) => {
      const fn = this.helper('copy', shape, arg);
      const out = fn(arg);
      this.observe(fn);
      return out;
    };
  }

  private zerosKernel(shape: readonly number[]): (s: number) => unknown {
    return (s) => {
      const fn = this.helper('zeros', shape, s);
      const out = fn(s);
      this.observe(fn);
      return out;
    };
  }

  private observe(fn: KernelFn): void {
    const Kernel = fn.kernel?.constructor;
    const actual = Kernel === this.gpu.Kernel ? this.mode : backendOf(Kernel);
    if (typeof actual !== 'string') return;
    this.observedModes.add(actual);
    if (actual !== this.mode && !this.warnedFallback) {
      this.warnedFallback = true;
      console.warn(
        `@schedulefree/gpujs: a kernel runs in ${actual} mode instead of ${this.mode}` +
          `${fn.fallbackReason ? ` (${fn.fallbackReason})` : ''}; results stay correct but slower.`,
      );
    }
  }
}

/** The gpu.js argument type of a kernel argument value. */
function argumentType(value: unknown): string {
  if (typeof value === 'number') return 'Float';
  if (isDeviceValue(value)) return String((value as { type?: unknown }).type ?? 'NumberTexture');
  return 'Array';
}

/** A kernel result as storage: device values as they are, host results flattened to a Float32Array. */
function toResident(value: unknown, size: number): Resident {
  if (isDeviceValue(value)) return value;
  if (value instanceof Float32Array && value.length === size) return value;
  return flatHost(value, size);
}

function releaseValue(value: Resident): void {
  if (!(value instanceof Float32Array)) value.delete();
}

function then<T>(value: MaybePromise<T>, fn: (v: T) => void): MaybePromise<void> {
  return isPromiseLike<T>(value) ? Promise.resolve(value).then(fn) : fn(value);
}
