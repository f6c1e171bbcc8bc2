import {
  type Algorithm,
  AsyncOptimizerBase,
  type ClosureResult,
  check,
  type EngineOptions,
  followedBy,
  isThenable,
  perParameter,
  type StepExtras,
  type Work,
  wait,
  waitAll,
} from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { gpujsBackend } from './backend.js';
import { gradientTensors, type ParamSource, paramTensors } from './convert.js';
import { checkFlag, type GpuJsRuntimeOptions, GpuRuntime } from './runtime.js';
import type { GpuTensor } from './tensor.js';
import { type DeviceValue, type GpuGradValue, type GpuParamValue, shapedView } from './values.js';

/** Parameters: a record name → value, or groups each with their own option overrides. */
export type GpuJsParams<O> =
  | Readonly<Record<string, GpuParamValue>>
  | ReadonlyArray<{ params: Readonly<Record<string, GpuParamValue>> } & Partial<O>>;

/** Gradients keyed by parameter name; `null` for a parameter without a gradient this step (left as it is). */
export type GpuJsGrads = Readonly<Record<string, GpuGradValue | null>>;

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

/** What a closure passed to {@link GpuJsClosureOptimizer.step} returns (or resolves to). */
export type GpuJsClosureResult = GpuJsGrads | { loss?: number; grads: GpuJsGrads };

type Group = { params: Readonly<Record<string, unknown>> };

/**
 * What the gpu.js optimizers share: a façade over the core's asynchronous engine with parameters
 * and groups, state dicts, read-backs and disposal over generated kernels. Every call returns a
 * promise and takes effect after the calls made before it, with the options and gradient contents
 * it was made with. With nothing pending a call starts at once: in the `webgl`, `webgl2`, `webasm`
 * and `cpu` modes its work is done when it returns, and `await` costs nothing; in WebGPU mode (and
 * with `asyncKernels`) the work completes later.
 */
export abstract class GpuJsOptimizerBase<O extends object> extends AsyncOptimizerBase<GpuTensor, O> {
  /** The GPU instance the kernels are created on. */
  readonly gpu: GPU;
  protected readonly runtime: GpuRuntime;
  /** Host modes: row views of shaped parameters, as a 2-D or 3-D kernel indexes them. */
  private readonly views = new Map<string, Float32Array[] | Float32Array[][]>();
  /** Where each parameter's values came from, to refuse the same array under a second name. */
  private sources: ParamSource[];

  constructor(algorithm: Algorithm<O>, gpu: GPU, params: GpuJsParams<O>, options: GpuJsOptions<O> = {}) {
    const where = algorithm.name;
    check(
      options !== null && typeof options === 'object' && !Array.isArray(options),
      'INVALID_OPTION',
      () => `${where}: options must be an object such as { lr: 0.01 }.`,
    );
    const { kernelStyle, asyncKernels, optimizeFloatMemory, checkDeviceGradients, ...engineOptions } =
      options;
    checkFlag(where, 'checkDeviceGradients', checkDeviceGradients);
    const runtime = new GpuRuntime(gpu, { kernelStyle, asyncKernels, optimizeFloatMemory }, where);
    // Check every parameter before any GPU work; the engine then checks the options; then upload.
    const sources = new Map<GpuTensor, ParamSource>();
    const converted = Array.isArray(params)
      ? (params as ReadonlyArray<Group>).map((g) =>
          g && typeof g === 'object' ? { ...g, params: paramTensors(where, g.params, runtime, sources) } : g,
        )
      : paramTensors(where, params, runtime, sources);
    super(algorithm, gpujsBackend(runtime, checkDeviceGradients === true), converted as never, engineOptions);
    this.gpu = gpu;
    this.runtime = runtime;
    this.sources = [...sources.values()];
    this.upload(this.engine.params, sources);
    if (!runtime.idle) {
      // The uploads complete later (WebGPU): they count as the first call, so every call resolves
      // after them. A failed upload is reported by the first call that reads the parameter.
      const uploads = { method: 'constructor', prepare: () => () => wait(runtime.settled()) };
      this.engine.later(uploads).catch(() => {});
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

  /**
   * The current parameters by name, ready to pass to your kernels: in `cpu` and `webasm` modes your
   * Float32Arrays themselves (updated in place; a parameter given as `input(values, [x, y])` comes
   * as rows of views into `values`, as a 2-D kernel takes it); in GPU modes the optimizer's textures
   * (WebGPU buffers) of the same shapes, which each step replaces (deleting the previous ones). Do
   * not delete them. Readable while no GPU work is running: inside a step's closure or
   * `withEvalParams`, or once the last call has resolved.
   */
  get params(): Readonly<Record<string, GpuJsTensor>> {
    check(
      this.runtime.idle,
      'UNSUPPORTED',
      () =>
        `${this.algorithm.name}.params: GPU work is still running; await the last call (or optimizer.ready()) first.`,
    );
    return Object.fromEntries(
      Object.entries(this.engine.params).map(([name, t]) => [
        name,
        (this.views.get(name) ?? t.value) as GpuJsTensor,
      ]),
    );
  }

  /** Resolves once every call made so far, and the uploads of the constructor, have taken effect. */
  override async ready(): Promise<void> {
    await this.engine.settled();
    await this.runtime.settled();
  }

  /** The stored parameters (y in train mode, x in eval mode) read back to the host. */
  readParams(): Promise<Record<string, Float32Array>> {
    const engine = this.engine;
    return engine.later({
      method: 'readParams',
      prepare: () => {
        check(
          !engine.isDisposed,
          'DISPOSED',
          () => `${engine.name}.readParams() was called after dispose(). Create a new optimizer instead.`,
        );
        return () => this.readHost(engine.params, false);
      },
    });
  }

  /**
   * The parameters at x (the evaluation point), read back to the host, without changing anything
   * in the optimizer or the parameters.
   */
  evalParams(): Promise<Record<string, Float32Array>> {
    const engine = this.engine;
    return engine.later(
      followedBy(engine.evalParams(), (tensors) => this.readHost(perParameter(engine, tensors), true)),
    );
  }

  /**
   * Frees the state buffers and kernels this optimizer created, once the calls made before it have
   * taken effect. In GPU modes the parameter textures in {@link params} stay valid and become
   * yours. Any later call throws `DISPOSED`.
   */
  override dispose(): Promise<void> {
    const released = this.engine.dispose();
    const destroy = () => {
      this.runtime.destroy();
      this.sources = [];
    };
    if (!released && this.runtime.idle) {
      destroy();
      return Promise.resolve();
    }
    return Promise.resolve(released)
      .then(() => this.runtime.settled())
      .then(destroy, destroy);
  }

  /**
   * Adds a parameter group (e.g. layers to unfreeze), taking effect after the calls made before it:
   * parameters as the constructor takes them, options not given from the constructor's.
   */
  override addParamGroup(
    group: { params: Readonly<Record<string, GpuParamValue | GpuTensor>> } & Partial<O>,
  ): Promise<void> {
    const engine = this.engine;
    const where = `${engine.name}.addParamGroup`;
    return engine.later({
      method: 'addParamGroup',
      prepare: (deferred) => {
        const sources = new Map<GpuTensor, ParamSource>();
        const params = paramTensors(where, group?.params, this.runtime, sources, this.sources);
        const add = engine.addParamGroup({ ...group, params }).prepare(deferred);
        const self = this;
        return function* () {
          yield* add();
          self.upload(params, sources);
          self.sources.push(...sources.values());
        };
      },
    });
  }

  /** An engine step with the user's gradients, converted (and checked) when the call is made. */
  protected stepWith(grads: unknown, extras?: StepExtras): Promise<boolean> {
    return this.engine.later({
      method: 'step',
      prepare: (deferred) => this.engine.step(this.gradientTensors(grads), extras).prepare(deferred),
    });
  }

  /** Converts user gradients to tensors (checking types and shapes); `null` stays (no gradient). */
  protected gradientTensors(grads: unknown): Record<string, GpuTensor> {
    const where = `${this.algorithm.name}.step`;
    return gradientTensors(where, grads, this.engine.params, this.runtime) as Record<string, GpuTensor>;
  }

  /** Fills new parameter tensors from where their values come from; host modes keep row views. */
  private upload(tensors: Readonly<Record<string, GpuTensor>>, sources: ReadonlyMap<GpuTensor, ParamSource>) {
    for (const [name, tensor] of Object.entries(tensors)) {
      const { source, userShape } = sources.get(tensor)!;
      this.runtime.load(tensor, source);
      if (tensor.value instanceof Float32Array && userShape.length > 1) {
        this.views.set(name, shapedView(tensor.value, userShape) as Float32Array[] | Float32Array[][]);
      }
    }
  }

  /** Reads tensors back to host arrays by name, releasing them afterwards if `owned`. */
  private *readHost(
    tensors: Readonly<Record<string, GpuTensor>>,
    owned: boolean,
  ): Work<Record<string, Float32Array>> {
    const names = Object.keys(tensors);
    try {
      const values = yield* waitAll(names.map((name) => this.runtime.read(tensors[name])));
      return Object.fromEntries(names.map((name, i) => [name, values[i]]));
    } finally {
      if (owned) for (const name of names) this.runtime.release(tensors[name]);
    }
  }
}

/**
 * A Schedule-Free optimizer whose update runs as generated gpu.js kernels: parameters hold y in
 * train mode (`train()` before stepping) and x in eval mode (`eval()` before evaluating or saving).
 * Works with any {@link Algorithm} of the core or the wrapper package.
 */
export class GpuJsOptimizer<O extends object> extends GpuJsOptimizerBase<O> {
  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): Promise<this> {
    return this.engine.later(this.engine.train()).then(() => this);
  }

  /**
   * Switch to eval mode: parameters move to x. A no-op when already in eval mode. Resolves once the
   * move has run; then {@link params} holds x.
   */
  eval(): Promise<this> {
    return this.engine.later(this.engine.eval()).then(() => this);
  }

  /**
   * One step with gradients taken at the current parameters (y), keyed by parameter name:
   * Float32Arrays, `input()`s, nested rows, or textures (WebGPU buffers) shaped like their
   * parameters. Host gradients are copied when the call is made, so refilling them afterwards does
   * not change this step. Resolves to false if the step was skipped for a non-finite gradient
   * (`nonFiniteGrads: 'skip'`). On an error nothing has changed.
   */
  step(grads: GpuJsGrads, extras?: StepExtras): Promise<boolean> {
    return this.stepWith(grads, extras);
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when it throws).
   * In eval mode it simply calls `fn`. Calls on this optimizer from inside `fn` are refused.
   */
  withEvalParams<R>(fn: () => R | Promise<R>): Promise<R> {
    return this.engine.later(this.engine.withEvalParams(fn)) as Promise<R>;
  }
}

/**
 * Closure-driven Schedule-Free optimizers over gpu.js kernels: parameters hold x between steps;
 * `step(closure)` moves them to y, awaits the closure's gradients, updates, and leaves them at x.
 */
export class GpuJsClosureOptimizer<O extends object> extends GpuJsOptimizerBase<O> {
  /**
   * One step. The closure runs while the parameters hold y (read them from {@link params}) and
   * returns the gradients, or `{ loss, grads }`, or a promise of either. Resolves to the loss, if
   * the closure gave one. Calls made while it runs wait for it; calls made from inside it are
   * refused. If the closure fails, returns bad gradients or sets invalid options, the parameters
   * are restored exactly and nothing else changes.
   */
  step(closure: () => GpuJsClosureResult | Promise<GpuJsClosureResult>): Promise<number | undefined> {
    const converted = () => {
      const result = closure();
      return isThenable(result) ? result.then(this.closureGradients) : this.closureGradients(result);
    };
    return this.engine.later(this.engine.closureStep(typeof closure === 'function' ? converted : closure));
  }

  /** A closure's result with its gradients converted to tensors (read as the engine reads it). */
  private closureGradients = (result: GpuJsClosureResult): ClosureResult<GpuTensor> => {
    const paired =
      result !== null &&
      typeof result === 'object' &&
      'grads' in result &&
      Object.keys(result).every((k) => k === 'grads' || k === 'loss');
    if (!paired) return this.gradientTensors(result);
    const { loss, grads } = result as { loss?: number; grads: unknown };
    return { loss, grads: this.gradientTensors(grads) };
  };
}
