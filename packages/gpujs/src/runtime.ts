import { check, isThenable, type KernelPlan, ScheduleFreeError } from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { backendOf, GpuKernels, type GpuLike } from './kernels.js';
import { capacityProblem, type DeviceLimits, isGLMode } from './limits.js';
import type { OutputStyle } from './lower.js';
import { GpuTensor, type Holding } from './tensor.js';
import { type DeviceValue, flatHost, isDeviceValue, type Resident, shapedView, shapeSize } from './values.js';

/**
 * How a step's outputs come out of gpu.js:
 * - `map`: one `createKernelMap` writing every output in one pass (default in WebGL modes);
 * - `single`: one kernel per output (default in `webgpu`, which has no kernel maps, and in `cpu` and
 *   `webasm`, where it is the faster form: webasm has no kernel maps, and `Array(k)` results come
 *   back as one small array per element).
 */
export type KernelStyle = OutputStyle;

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

type MaybePromise<T> = T | Promise<T>;

const HOST_MODES = new Set(['cpu', 'webasm']);

/** `fn(value)`, at once for a value, after it for a promise. */
function then<T, R>(value: MaybePromise<T>, fn: (v: T) => MaybePromise<R>): MaybePromise<R> {
  return isThenable(value) ? Promise.resolve(value).then(fn) : fn(value);
}

/** Throws `INVALID_OPTION` unless `value` is a boolean or undefined, saying what to pass instead. */
export function checkFlag(where: string, name: string, value: unknown, fallback = false): void {
  check(
    value === undefined || typeof value === 'boolean',
    'INVALID_OPTION',
    () =>
      `${where}: option "${name}" must be true or false, got ${shown(value)}. Pass { ${name}: true } or { ${name}: false }, or leave it out (default ${fallback}).`,
  );
}

/** A value as an error message shows it (JSON where it has one, its type otherwise). */
function shown(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return `a ${typeof value}`;
  }
}

/**
 * Everything that touches gpu.js for one optimizer: the backend mode and its limits, the storage
 * of tensors (host arrays or device values), and running lowered plans. Work that gpu.js does
 * asynchronously (every kernel in WebGPU, and with `asyncKernels`) leaves a promise in the tensor it
 * produces; whatever reads that tensor next waits for it, so work on one tensor happens in the order
 * it was asked for. The engine waits for each run, so there is nothing else to order.
 */
export class GpuRuntime {
  /** The backend the kernels run on (`webgl2`, `webgl`, `headlessgl`, `webgpu`, `webasm`, `cpu`). */
  readonly mode: string;
  /** `host`: tensors are Float32Arrays updated in place; `device`: textures or WebGPU buffers. */
  readonly residence: 'host' | 'device';
  readonly style: KernelStyle;
  readonly limits: DeviceLimits;
  /** Whether every gpu.js call returns its result at once (all modes but webgpu, without `asyncKernels`). */
  readonly synchronous: boolean;
  readonly kernels: GpuKernels;
  /** Asynchronous gpu.js work not finished yet. */
  private readonly inFlight = new Set<Promise<unknown>>();

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
    checkFlag(where, 'asyncKernels', options.asyncKernels);
    checkFlag(where, 'optimizeFloatMemory', options.optimizeFloatMemory, true);
    const mode = backendOf(g.Kernel ?? undefined, g.mode);
    if (typeof mode !== 'string') fail('this GPU instance has no backend (gpu.Kernel is not set).');
    this.mode = mode as string;
    this.residence = HOST_MODES.has(this.mode) ? 'host' : 'device';
    const features = (g.Kernel?.features ?? {}) as Record<string, unknown>;
    if (this.residence === 'device' && features.isTextureFloat === false) {
      fail(
        `this ${this.mode} context cannot store float32 textures, which the optimizer state needs; use mode "webasm".`,
      );
    }
    const kernelMaps = features.kernelMap === true && this.mode !== 'webasm' && this.mode !== 'webgpu';
    // WebGL: one kernel map; webasm: one kernel with a row per output; webgpu and cpu: one kernel
    // per output (in cpu mode, which copies nothing, rows measured slower).
    const style =
      options.kernelStyle ??
      (kernelMaps && isGLMode(this.mode) ? 'map' : this.mode === 'webasm' ? 'rows' : 'single');
    check(
      style === 'map' || style === 'single' || style === 'rows',
      'INVALID_OPTION',
      () =>
        `${where}: option "kernelStyle" must be 'map', 'single' or 'rows', got ${shown(style)}; leave it out for the mode's default.`,
    );
    if (style === 'rows' && this.residence !== 'host') {
      fail(
        `kernelStyle 'rows' is for the host modes (webasm, cpu), not ${this.mode}; use 'map' or 'single', or leave it out.`,
      );
    }
    if (style === 'map' && !kernelMaps) {
      fail(
        `kernel maps are not available in ${this.mode} mode${this.mode === 'webasm' ? ' (gpu.js would silently fall back to cpu)' : ''}; use kernelStyle 'single'.`,
      );
    }
    this.style = style;
    const maxTextureSize = Number(features.maxTextureSize);
    const optimizeFloatMemory = isGLMode(this.mode) && options.optimizeFloatMemory !== false;
    this.limits = {
      mode: this.mode,
      maxTextureSize: Number.isFinite(maxTextureSize) ? maxTextureSize : Infinity,
      optimizeFloatMemory,
    };
    this.synchronous = options.asyncKernels !== true && this.mode !== 'webgpu';
    this.kernels = new GpuKernels(g, {
      mode: this.mode,
      style,
      // One result from the root plus sub-kernels; four draw buffers are available everywhere.
      maxResults: style === 'map' ? 4 : 1,
      asyncKernels: options.asyncKernels === true,
      optimizeFloatMemory,
    });
  }

  /** Backend modes the kernels actually ran in. */
  get observedModes(): ReadonlySet<string> {
    return this.kernels.observedModes;
  }

  /** True when no asynchronous gpu.js work is unfinished. */
  get idle(): boolean {
    return this.inFlight.size === 0;
  }

  /** Resolves once the asynchronous work started so far has finished (rejects if some failed). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
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
   * Fills an empty device tensor with a copy of host data or of a device value (a copy, so that later
   * runs of the user's own kernels cannot write into the optimizer's state).
   */
  load(t: GpuTensor, source: Float32Array | DeviceValue): void {
    if (t.value !== null) return;
    const arg = source instanceof Float32Array ? shapedView(source, t.shape) : source;
    this.produce(t, () => this.kernels.copy(t.shape, arg));
  }

  /** A new tensor with the same contents (device values are shared: kernels never write into them). */
  clone(src: GpuTensor): GpuTensor {
    return this.hold(new GpuTensor(src.shape, null, true), then(this.holding(src), share));
  }

  /** A new zero-filled tensor of the given shape. */
  zeros(shape: readonly number[]): GpuTensor {
    if (this.residence === 'host') return new GpuTensor(shape, new Float32Array(shapeSize(shape)), true);
    return this.produce(new GpuTensor(shape, null, true), () => this.kernels.zeros(shape));
  }

  /** A new tensor of the given shape holding host values. */
  fromHost(values: ArrayLike<number>, shape: readonly number[]): GpuTensor {
    const data = Float32Array.from(values);
    if (this.residence === 'host') return new GpuTensor(shape, data, true);
    return this.produce(new GpuTensor(shape, null, true), () =>
      this.kernels.copy(shape, shapedView(data, shape)),
    );
  }

  /** Overwrites `dst` with the contents of `src`: host data in place, device values by sharing. */
  assign(dst: GpuTensor, src: GpuTensor): void {
    const from = this.holding(src);
    if (dst.value instanceof Float32Array && from instanceof Float32Array) {
      dst.value.set(from);
      return;
    }
    const old = dst.owned ? dst.value : null;
    dst.owned = true;
    this.hold(dst, then(from, share));
    if (old) drop(old);
  }

  /**
   * A copy of a gradient as it is now, for a step that runs later: host data the caller may refill
   * is copied; a device value is shared (so that deleting it does not free it under the step).
   */
  capture(t: GpuTensor): GpuTensor {
    if (t.owned || t.value === null) return t;
    return this.hold(new GpuTensor(t.shape, null, true), then(t.value, share));
  }

  /** The contents as a new Float32Array: at once, or as a promise where gpu.js reads asynchronously. */
  read(t: GpuTensor): MaybePromise<Float32Array> {
    return then(this.holding(t), (v) =>
      v instanceof Float32Array
        ? v.slice()
        : then(v.toArray() as MaybePromise<unknown>, (data) => flatHost(data, t.size)),
    );
  }

  /** Releases what the tensor holds, if the optimizer created it. */
  release(t: GpuTensor): void {
    if (t.owned && t.value) drop(t.value);
    t.value = null;
  }

  /**
   * Runs a plan over the slots of each member of parameter group `group` with the run's scalar
   * values, then puts every output into its slot's tensor (in place into a user's host array,
   * otherwise by replacing the value) and releases the values replaced. Returns a promise when
   * gpu.js works asynchronously.
   */
  run(
    plan: KernelPlan,
    scalars: readonly number[],
    members: ReadonlyArray<Readonly<Record<string, GpuTensor>>>,
    group: number,
  ): void | Promise<void> {
    const jobs = members.map((slots) => ({
      slots,
      kernels: this.kernels.program(plan, slots.param.shape, group),
    }));
    const pending = jobs.flatMap(({ slots, kernels }) =>
      kernels.flatMap((k) => k.lowered.tensors.map((name) => slots[name].value).filter(isThenable)),
    );
    const launch = () => {
      const outputs = jobs.map(({ slots, kernels }) =>
        kernels.map((k) => {
          const args = k.lowered.tensors.map((name) => this.argument(slots[name]));
          return this.kernels.call(k, slots.param.shape, args, scalars);
        }),
      );
      const commit = (values: unknown[][]) => {
        const released: Holding[] = [];
        jobs.forEach(({ slots, kernels }, j) => {
          kernels.forEach((k, i) => {
            for (const r of k.lowered.results) {
              const result = values[j][i];
              const raw = k.mapped
                ? (result as Record<string, unknown>)[r.key]
                : k.lowered.rows
                  ? (result as unknown[])[Number(r.key)]
                  : result;
              const value = toResident(raw, slots.param.size);
              r.slots.forEach((slot, s) => store(slots[slot], s === 0 ? value : share(value), released));
            }
          });
        });
        // Only now: every kernel of this run has read the old values.
        for (const old of released) drop(old);
        this.kernels.releaseSuperseded();
      };
      if (!outputs.some((o) => o.some(isThenable))) return commit(outputs);
      return Promise.all(outputs.map((o) => Promise.all(o))).then(commit);
    };
    if (pending.length > 0) return this.track(Promise.all(pending).then(launch));
    const done = launch();
    return done && this.track(done);
  }

  /**
   * The sums over every element of every member of each term of a reduction plan: one partial-sum
   * kernel per member, whose few partial sums (about √n per term) are the only values read back,
   * added up on the host in float64. A promise where gpu.js works asynchronously.
   */
  reduce(
    plan: KernelPlan,
    scalars: readonly number[],
    members: ReadonlyArray<Readonly<Record<string, GpuTensor>>>,
  ): MaybePromise<number[]> {
    const terms = Object.keys(plan.graph.outputs);
    const launch = () =>
      members.map((slots) => {
        const run = this.kernels.reduce(plan, slots.param.shape, scalars, (names) =>
          names.map((name) => this.argument(slots[name])),
        );
        return then(run.result as MaybePromise<unknown>, (rows) => {
          const partial = flatHost(rows, run.blocks * terms.length);
          // Row j holds term j's partial sums.
          return terms.map((_, j) => {
            let sum = 0;
            for (let b = 0; b < run.blocks; b++) sum += partial[j * run.blocks + b];
            return sum;
          });
        });
      });
    const total = (perMember: number[][]) => terms.map((_, j) => perMember.reduce((sum, m) => sum + m[j], 0));
    const pending = members.flatMap((slots) =>
      Object.values(slots)
        .map((t) => t.value)
        .filter(isThenable),
    );
    const finish = (): MaybePromise<number[]> => {
      const sums = launch();
      if (!sums.some(isThenable)) return total(sums as number[][]);
      return this.track(Promise.all(sums).then(total));
    };
    return pending.length > 0 ? this.track(Promise.all(pending).then(finish)) : finish();
  }

  /** Lets go of every kernel this optimizer used. */
  destroy(): void {
    this.kernels.destroy();
  }

  /** The tensor's current value (or its promise); throws for a released tensor. */
  private holding(t: GpuTensor): Holding {
    if (!t.value) throw new Error('internal error: a tensor was used after it was released');
    return t.value;
  }

  /** A kernel argument: host data viewed with the tensor's shape, or the device value. */
  private argument(t: GpuTensor): unknown {
    const value = t.value as Resident;
    return value instanceof Float32Array ? shapedView(value, t.shape) : value;
  }

  /** Fills `t` with the value a gpu.js call makes. */
  private produce(t: GpuTensor, make: () => unknown): GpuTensor {
    return this.hold(
      t,
      then(make(), (raw) => toResident(raw, t.size)),
    );
  }

  /** Puts a value into `t`; a promise is tracked, and replaced by its value once it has one. */
  private hold(t: GpuTensor, value: Holding): GpuTensor {
    t.value = value;
    if (isThenable(value)) {
      this.track(value).then(
        (v) => {
          if (t.value === value) t.value = v;
        },
        () => {},
      );
    }
    return t;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const settle = () => void this.inFlight.delete(work);
    work.then(settle, settle);
    return work;
  }
}

/** Puts a kernel result into a tensor: in place into a user's host array, otherwise by replacement. */
function store(t: GpuTensor, value: Resident, released: Holding[]): void {
  if (!t.owned && t.value instanceof Float32Array && value instanceof Float32Array) {
    t.value.set(value);
    return;
  }
  if (t.owned && t.value) released.push(t.value);
  t.value = value;
  t.owned = true;
}

/** A second reference to a value that can be released on its own. */
function share(value: Resident): Resident {
  return value instanceof Float32Array ? value.slice() : (value.clone() as Resident);
}

/** Releases a value (once it exists, for a promise). */
function drop(value: Holding): void {
  const release = (v: Resident) => {
    if (!(v instanceof Float32Array)) v.delete();
  };
  // A value that never came (its kernel failed) has nothing to release.
  if (isThenable(value)) value.then(release, () => {});
  else release(value);
}

/** A kernel result as storage: device values as they are, host results flattened to a Float32Array. */
function toResident(value: unknown, size: number): Resident {
  if (isDeviceValue(value)) return value;
  if (value instanceof Float32Array && value.length === size) return value;
  return flatHost(value, size);
}
