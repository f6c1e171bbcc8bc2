import {
  type Algorithm,
  check,
  type EngineOptions,
  type Mode,
  type ParamGroup,
  type StateDict,
} from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { gpujsBackend } from './backend.js';
import { gradientTensors, type ParamSource, paramSource } from './convert.js';
import { GpuEngine } from './engine.js';
import { type GpuJsRuntimeOptions, GpuRuntime } from './runtime.js';
import type { GpuTensor } from './tensor.js';
import { type DeviceValue, type GpuGradValue, type GpuParamValue, shapedView } from './values.js';

/** Parameters: a record name → value, or groups each with their own option overrides. */
export type GpuJsParams<O> =
  | Readonly<Record<string, GpuParamValue>>
  | ReadonlyArray<{ params: Readonly<Record<string, GpuParamValue>> } & Partial<O>>;

/** Gradients keyed by parameter name. */
export type GpuJsGrads = Readonly<Record<string, GpuGradValue>>;

/**
 * What the stored parameters are: host arrays (cpu, webasm; rows of views for shaped ones) or GPU
 * values (textures, WebGPU buffers).
 */
export type GpuJsTensor = Float32Array | Float32Array[] | Float32Array[][] | DeviceValue;

/** Constructor options: the algorithm's options, the engine's, and how gpu.js runs. */
export type GpuJsOptions<O> = Partial<O> &
  EngineOptions &
  GpuJsRuntimeOptions & {
    /**
     * Also check gradients that live on the GPU for NaN and ±Infinity. This reads every gradient
     * back to the host each step, which costs what pipeline mode saves; off by default, in which case
     * only host gradients (Float32Arrays) are checked.
     */
    checkDeviceGradients?: boolean;
  };

/**
 * What the gpu.js optimizers share: parameters and groups, state dicts, read-backs and disposal over
 * generated kernels. Steps and reads return promises: in WebGPU mode (and whenever kernels are
 * asynchronous) work completes later; in the other modes the promise is already settled when the
 * call returns, and `await` costs nothing. Await each call before the next.
 */
export abstract class GpuJsOptimizerBase<O extends object> {
  /** The algorithm (options, validation, schedule, programs) from the core. */
  readonly algorithm: Algorithm<O>;
  /** The GPU instance the kernels are created on. */
  readonly gpu: GPU;
  protected readonly runtime: GpuRuntime;
  protected readonly engine: GpuEngine<O>;
  protected readonly checkDeviceGradients: boolean;
  private readonly byName = new Map<string, GpuTensor>();
  /** Host modes: row views of shaped parameters, as a 2-D or 3-D kernel indexes them. */
  private readonly views = new Map<string, Float32Array[] | Float32Array[][]>();
  private serial: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(algorithm: Algorithm<O>, gpu: GPU, params: GpuJsParams<O>, options: GpuJsOptions<O> = {}) {
    const where = algorithm.name;
    check(
      options !== null && typeof options === 'object' && !Array.isArray(options),
      'INVALID_OPTION',
      () => `${where}: options must be an object such as { lr: 0.01 }.`,
    );
    const { kernelStyle, asyncKernels, optimizeFloatMemory, checkDeviceGradients, ...engineOptions } =
      options as GpuJsOptions<O>;
    this.algorithm = algorithm;
    this.gpu = gpu;
    this.checkDeviceGradients = checkDeviceGradients === true;
    this.runtime = new GpuRuntime(gpu, { kernelStyle, asyncKernels, optimizeFloatMemory }, where);
    // Check every parameter before any GPU work, then let the engine check the options, then upload.
    const sources = new Map<GpuTensor, ParamSource>();
    const convert = (record: Readonly<Record<string, unknown>>) => {
      check(
        record !== null && typeof record === 'object',
        'INVALID_PARAMS',
        () =>
          `${where}: params must be a record name → Float32Array | input() | texture, or an array of groups { params, ...options }.`,
      );
      const out: Record<string, GpuTensor> = {};
      for (const [name, value] of Object.entries(record)) {
        const src = paramSource(where, name, value, this.runtime);
        const tensor = this.runtime.paramTensor(
          src.source instanceof Float32Array ? src.source : null,
          src.shape,
        );
        sources.set(tensor, src);
        out[name] = tensor;
      }
      return out;
    };
    const converted = Array.isArray(params)
      ? (params as ReadonlyArray<{ params: Readonly<Record<string, unknown>> }>).map((g) =>
          g && typeof g === 'object' ? { ...g, params: convert(g.params) } : g,
        )
      : convert(params as Readonly<Record<string, unknown>>);
    this.engine = new GpuEngine<O>(
      algorithm,
      gpujsBackend(this.runtime),
      converted as never,
      engineOptions as never,
    );
    for (const [name, tensor] of Object.entries(this.engine.params)) {
      const { source, userShape } = sources.get(tensor)!;
      this.byName.set(name, tensor);
      this.runtime.load(tensor, source);
      if (tensor.value instanceof Float32Array && userShape.length > 1) {
        this.views.set(name, shapedView(tensor.value, userShape) as Float32Array[] | Float32Array[][]);
      }
    }
  }

  /** The backend the kernels run on: `webgl2`, `webgl`, `headlessgl`, `webgpu`, `webasm` or `cpu`. */
  get backendMode(): string {
    return this.runtime.mode;
  }

  /**
   * The backend modes the kernels actually ran in so far. gpu.js may move a kernel to `cpu`
   * silently (with a console warning); then this holds more than {@link backendMode}.
   */
  get kernelModes(): ReadonlySet<string> {
    return this.runtime.observedModes;
  }

  /** Parameter groups; change `lr` (or other options) here between steps. */
  get paramGroups(): ParamGroup<O>[] {
    return this.engine.paramGroups;
  }

  /** `'train'` when parameters hold y, `'eval'` when they hold x. Optimizers start in eval mode. */
  get mode(): Mode {
    return this.engine.mode;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.engine.isDisposed;
  }

  /**
   * The current parameters by name, ready to pass to your kernels: in `cpu` and `webasm` modes your
   * Float32Arrays themselves (updated in place; a parameter given as `input(values, [x, y])` comes
   * as rows of views into `values`, as a 2-D kernel takes it); in GPU modes the optimizer's textures
   * (WebGPU buffers) of the same shapes, which each step replaces (deleting the previous ones). Do
   * not delete them.
   */
  get params(): Readonly<Record<string, GpuJsTensor>> {
    this.assertIdle('params');
    return Object.fromEntries(
      [...this.byName].map(([name, t]) => [name, (this.views.get(name) ?? t.value) as GpuJsTensor]),
    );
  }

  /** A group's counters: steps taken `k`, `lrMax`, `weightSum`, and the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    return this.engine.groupState(group);
  }

  /** Resolves once every kernel scheduled so far has run (rejects if one failed). */
  ready(): Promise<void> {
    return this.runtime.queue.flush();
  }

  /** The stored parameters (y in train mode, x in eval mode) read back to the host. */
  readParams(): Promise<Record<string, Float32Array>> {
    return this.exclusive(async () => {
      this.engine.assertUsable('readParams');
      await this.runtime.queue.flush();
      const out: Record<string, Float32Array> = {};
      for (const [name, t] of this.byName) out[name] = await this.runtime.fetch(t);
      return out;
    });
  }

  /**
   * The parameters at x (the evaluation point), read back to the host, without changing anything
   * in the optimizer or the parameters.
   */
  evalParams(): Promise<Record<string, Float32Array>> {
    return this.exclusive(async () => {
      const tensors = this.engine.evalParams();
      try {
        const out: Record<string, Float32Array> = {};
        for (const [name, t] of Object.entries(tensors)) out[name] = await this.runtime.fetch(t);
        return out;
      } finally {
        for (const t of Object.values(tensors)) this.runtime.release(t);
      }
    });
  }

  /** The full optimizer state as plain JSON (read back from the GPU). */
  stateDict(): Promise<StateDict> {
    return this.exclusive(async () => {
      this.engine.assertUsable('stateDict');
      const tensors = this.engine.stateTensors();
      try {
        for (const t of tensors) t.hostCopy = await this.runtime.fetch(t);
        return this.engine.stateDict();
      } finally {
        for (const t of tensors) t.hostCopy = null;
      }
    });
  }

  /**
   * Restores a state produced by {@link stateDict} (matched by parameter name). A state from another
   * class, other parameter names, groups or sizes is a `STATE_MISMATCH` error that changes nothing.
   * Parameters themselves are not stored: restore them alongside.
   */
  loadStateDict(stateDict: StateDict): Promise<void> {
    return this.exclusive(async () => {
      this.engine.loadStateDict(stateDict);
      await this.runtime.queue.flush();
    });
  }

  /**
   * Frees the state buffers and kernels this optimizer created. In GPU modes the parameter textures
   * in {@link params} stay valid and become yours. Any later call throws `DISPOSED`.
   */
  dispose(): void {
    if (this.engine.isDisposed) return;
    this.engine.dispose();
    if (this.runtime.queue.failed) this.runtime.destroy();
    else this.runtime.queue.run(() => this.runtime.destroy());
  }

  /** Converts user gradients to tensors (checking types and shapes). */
  protected gradientTensors(grads: unknown): Record<string, GpuTensor> {
    return gradientTensors(`${this.algorithm.name}.step`, grads, this.byName, this.runtime);
  }

  /** With `checkDeviceGradients`, reads GPU gradients back to check them for NaN and ±Infinity. */
  protected async checkDeviceValues(tensors: Readonly<Record<string, GpuTensor>>): Promise<void> {
    for (const t of Object.values(tensors)) {
      if (t.value && !(t.value instanceof Float32Array))
        t.finite = (await this.runtime.fetch(t)).every(Number.isFinite);
    }
  }

  /** Whether gradients must be read back before the step. */
  protected needsDeviceCheck(tensors: Readonly<Record<string, GpuTensor>>): boolean {
    return (
      this.checkDeviceGradients &&
      Object.values(tensors).some((t) => t.value && !(t.value instanceof Float32Array))
    );
  }

  /**
   * Runs async public methods one after another, so that un-awaited calls keep their order. With
   * nothing pending, `fn` starts at once: in the synchronous modes its work is done when the call
   * returns.
   */
  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending === 0 ? fn() : this.serial.then(fn, fn);
    this.pending++;
    const settle = () => {
      this.pending--;
    };
    this.serial = run.then(settle, settle);
    return run;
  }

  private assertIdle(what: string): void {
    check(
      this.runtime.queue.idle,
      'UNSUPPORTED',
      () =>
        `${this.algorithm.name}.${what}: GPU work is still running; await the last step (or optimizer.ready()) first.`,
    );
  }
}

/**
 * A Schedule-Free optimizer whose update runs as generated gpu.js kernels: parameters hold y in
 * train mode (`train()` before stepping) and x in eval mode (`eval()` before evaluating or saving).
 * Works with any {@link Algorithm} of the core or the wrapper package.
 */
export class GpuJsOptimizer<O extends object> extends GpuJsOptimizerBase<O> {
  /**
   * Switch to train mode: parameters move to y. A no-op when already training. Resolves once the
   * move has run (at once, except in WebGPU and with asynchronous kernels); `mode` changes at once.
   */
  train(): Promise<this> {
    return this.exclusive(async () => {
      this.engine.train();
      await this.runtime.queue.flush();
      return this;
    });
  }

  /**
   * Switch to eval mode: parameters move to x. A no-op when already in eval mode. Resolves once the
   * move has run; then {@link params} holds x.
   */
  eval(): Promise<this> {
    return this.exclusive(async () => {
      this.engine.eval();
      await this.runtime.queue.flush();
      return this;
    });
  }

  /**
   * One step with gradients taken at the current parameters (y), keyed by parameter name:
   * Float32Arrays, `input()`s, nested rows, or textures (WebGPU buffers) shaped like their
   * parameters. Resolves to false if the step was skipped for a non-finite gradient
   * (`nonFiniteGrads: 'skip'`). On an error nothing has changed.
   */
  step(grads: GpuJsGrads): Promise<boolean> {
    return this.exclusive(async () => {
      this.engine.assertCanStep();
      const tensors = this.gradientTensors(grads);
      if (this.needsDeviceCheck(tensors)) await this.checkDeviceValues(tensors);
      const stepped = this.engine.step(tensors);
      await this.runtime.queue.flush();
      return stepped;
    });
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when it throws).
   * In eval mode it simply calls `fn`.
   */
  withEvalParams<R>(fn: () => R | Promise<R>): Promise<R> {
    return this.exclusive(async () => {
      const result = await this.engine.withEvalParams(async () => {
        await this.runtime.queue.flush();
        return fn();
      });
      await this.runtime.queue.flush();
      return result;
    });
  }
}

/** What a closure passed to {@link GpuJsClosureOptimizer.step} returns (or resolves to). */
export type GpuJsClosureResult = GpuJsGrads | { loss?: number; grads: GpuJsGrads };

/**
 * Closure-driven Schedule-Free optimizers over gpu.js kernels: parameters hold x between steps;
 * `step(closure)` moves them to y, awaits the closure's gradients, updates, and leaves them at x.
 */
export class GpuJsClosureOptimizer<O extends object> extends GpuJsOptimizerBase<O> {
  /**
   * One step. The closure runs while the parameters hold y (read them from {@link params}) and
   * returns the gradients, or `{ loss, grads }`, or a promise of either. Resolves to the loss, if
   * the closure gave one. If the closure fails or returns bad gradients, the parameters are restored
   * exactly and nothing else changes.
   */
  step(closure: () => GpuJsClosureResult | Promise<GpuJsClosureResult>): Promise<number | undefined> {
    return this.exclusive(async () => {
      check(
        typeof closure === 'function',
        'MISSING_GRAD',
        () => `${this.algorithm.name}.step(closure) needs a function returning the gradients.`,
      );
      const pending = this.engine.beginClosureStep();
      let loss: number | undefined;
      let tensors: Record<string, GpuTensor>;
      try {
        await this.runtime.queue.flush();
        const result = await closure();
        const unpacked = unpackClosureResult(result);
        loss = unpacked.loss;
        tensors = this.gradientTensors(unpacked.grads);
        if (this.needsDeviceCheck(tensors)) await this.checkDeviceValues(tensors);
        pending.finish(tensors);
      } catch (error) {
        pending.restore();
        await this.runtime.queue.flush();
        throw error;
      }
      await this.runtime.queue.flush();
      return loss;
    });
  }
}

function unpackClosureResult(result: GpuJsClosureResult): { loss?: number; grads: GpuJsGrads } {
  if (result && typeof result === 'object' && 'grads' in result) {
    const keys = Object.keys(result);
    const grads = (result as { grads: unknown }).grads;
    if (
      keys.every((k) => k === 'grads' || k === 'loss') &&
      grads &&
      typeof grads === 'object' &&
      !ArrayBuffer.isView(grads)
    ) {
      return result as { loss?: number; grads: GpuJsGrads };
    }
  }
  return { grads: result as GpuJsGrads };
}
