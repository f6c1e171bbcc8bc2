import {
  type Algorithm,
  BACKEND_SPEC_VERSION,
  type Backend,
  type ClosureResult,
  check,
  type Engine,
  graphOf,
  isThenable,
  normalizeGroups,
  planFor,
  wait,
} from '@schedulefree/core';
import { onnxExecution } from './execution.js';
import { type ExportedStep, exportStep } from './export.js';
import {
  checkParam,
  type OnnxOptimizerOptions,
  type OnnxParams,
  parseOptions,
  type StateLocation,
} from './options.js';
import {
  dimsOf,
  fillsPreallocatedOutputs,
  type OrtModule,
  type OrtTensor,
  onHost,
  resolveOrt,
  type TensorInput,
} from './runtime.js';
import { SessionCache } from './sessions.js';
import { onnxStorage } from './storage.js';
import { joinViews, perParameter, type ViewContext } from './views.js';

/** The `ort` argument: the module namespace (`import * as ort from 'onnxruntime-web'`) or its default export. */
export type OrtModuleInput = OrtModule | { readonly default: OrtModule };

/** What a closure passed to an ONNX closure optimizer's `step` gets and returns. */
export type OnnxClosure = (
  params: Record<string, OrtTensor>,
) => ClosureResult<TensorInput> | Promise<ClosureResult<TensorInput>>;

/** Where each parameter sits in its group's flat buffers, with its dimensions. */
export interface ParamLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly dims: readonly number[];
}

/**
 * Everything an ONNX optimizer is built from, prepared by {@link setUp} (asynchronous: device
 * parameters are read, the runtime is probed). Optimizer constructors take only this, so the
 * classes are created with their static `create`.
 */
export class OnnxSetup<O extends object> {
  private parts: OnnxParts<O> | undefined;

  constructor(
    readonly algorithm: Algorithm<O>,
    readonly params: OnnxParams<O>,
    readonly options: Record<string, unknown>,
    readonly context: OnnxContext,
  ) {}

  /** The engine's constructor arguments; refuses anything but a setup (a direct `new`). */
  static engineArgs<O extends object>(
    setup: OnnxSetup<O>,
  ): [Algorithm<O>, Backend<TensorInput>, OnnxParams<O>, Record<string, unknown>] {
    check(
      setup instanceof OnnxSetup,
      'UNSUPPORTED',
      () => 'ONNX optimizers are created with their static create: await Class.create(ort, params, options).',
    );
    return [setup.algorithm, setup.context.backend, setup.params, setup.options];
  }

  /** The ONNX side of the optimizer whose engine this is. */
  bind(engine: Engine<TensorInput, O>): OnnxParts<O> {
    this.parts = new OnnxParts(engine, this.context);
    return this.parts;
  }

  /**
   * Creates the sessions of every group's first step, so a provider that cannot run the graphs fails
   * here; then hands over the optimizer. On failure everything is released and the error thrown.
   */
  async ready<R>(optimizer: R): Promise<R> {
    const parts = this.parts!;
    try {
      await parts.compileNextSteps();
    } catch (error) {
      await parts.engine.dispose();
      await parts.dispose();
      throw error;
    }
    return optimizer;
  }
}

/** The backend and what the façades need besides the engine. */
export interface OnnxContext extends ViewContext {
  readonly backend: Backend<TensorInput>;
  readonly location: StateLocation;
}

/**
 * Resolves the runtime, splits the options, checks the parameters and reads device ones to the host
 * (keeping every parameter's dimensions), probes whether the runtime fills preallocated outputs, and
 * builds the backend: the flat layout, runs that never write their inputs, and (state on the GPU)
 * gradients checked inside the step graph.
 */
export async function setUp<O extends object>(
  algorithm: Algorithm<O>,
  ortInput: unknown,
  params: OnnxParams<O>,
  options: OnnxOptimizerOptions<O> = {},
): Promise<OnnxSetup<O>> {
  const where = algorithm.name;
  const ort = resolveOrt(ortInput, where);
  const { engineOptions, location, sessionOptions } = parseOptions(where, options ?? {});
  const dims = new Map<string, readonly number[]>();
  const hostParams = await onTheHost(where, params, dims);
  const preallocate = location === 'cpu' && (await fillsPreallocatedOutputs(ort, sessionOptions));
  const storage = onnxStorage(ort, location, preallocate);
  const sessions = new SessionCache(ort, sessionOptions, location, where);
  const provider = sessionOptions.executionProviders?.[0];
  const backend: Backend<TensorInput> = {
    specVersion: BACKEND_SPEC_VERSION,
    name: `onnx-${(typeof provider === 'string' ? provider : provider?.name) ?? 'default'}`,
    storage,
    execution: onnxExecution(ort, sessions, storage, preallocate),
    capabilities: {
      layout: 'flat',
      immutable: true,
      deviceFiniteCheck: location === 'gpu-buffer',
      dtype: 'float32',
    },
  };
  const context = { ort, storage, sessions, sessionOptions, dims, where, backend, location };
  return new OnnxSetup(algorithm, hostParams, engineOptions, context);
}

/** The parameters with device tensors read to the host; records each one's dimensions. */
async function onTheHost<O>(
  where: string,
  params: OnnxParams<O>,
  dims: Map<string, readonly number[]>,
): Promise<OnnxParams<O>> {
  const groups = normalizeGroups<TensorInput, O>(where, params);
  const read = await Promise.all(
    groups.map(async (g) => {
      const out: Record<string, TensorInput> = {};
      for (const [name, tensor] of Object.entries(g.params)) {
        checkParam(where, name, tensor);
        dims.set(name, [...dimsOf(tensor)]);
        out[name] = onHost(tensor) ? tensor : ((await (tensor as OrtTensor).getData()) as Float32Array);
      }
      return { ...g.overrides, params: out };
    }),
  );
  return Array.isArray(params) ? read : read[0].params;
}

/**
 * The ONNX side of an optimizer object, shared by its classes: per-parameter tensors (`params()`,
 * `evalParams()`, a closure's view of y), flat buffers, exported steps, sessions. Every operation
 * goes through the engine, so it takes effect in call order with the others.
 */
export class OnnxParts<O extends object> {
  constructor(
    readonly engine: Engine<TensorInput, O>,
    readonly context: OnnxContext,
  ) {}

  /** The current parameters by name, owned by the optimizer (valid until its next change). */
  params(): Promise<Record<string, OrtTensor>> {
    return this.engine.later({
      method: 'params',
      prepare: () => {
        this.assertUsable('params');
        return () => wait(this.current());
      },
    });
  }

  /** The parameters at x as new tensors owned by the caller. */
  evalParams(): Promise<Record<string, OrtTensor>> {
    const op = this.engine.evalParams();
    return this.engine.later({
      method: op.method,
      prepare: (deferred) => {
        const work = op.prepare(deferred);
        const parts = this;
        return function* () {
          const flats = yield* work();
          const members = parts.engine.layout();
          return yield* wait(
            joinViews(members.map((m, i) => perParameter(parts.context, m, flats[i] as OrtTensor, true))),
          );
        };
      },
    });
  }

  /** A group's flat parameter tensor, owned by the optimizer. */
  flatParams(group: number): OrtTensor {
    this.assertUsable('flatParams');
    return this.member(group, 'flatParams').slots.param as OrtTensor;
  }

  /** A closure step whose closure receives the parameters at y. */
  closureStep(closure: OnnxClosure): Promise<number | undefined> {
    return this.engine.later(this.engine.closureStep(this.withCurrent(closure)));
  }

  /** Runs `fn` with the parameters at x, which it receives, and puts them back exactly afterwards. */
  withEvalParams<R>(fn: (params: Record<string, OrtTensor>) => R | PromiseLike<R>): Promise<R> {
    return this.engine.later(this.engine.withEvalParams(this.withCurrent(fn))) as Promise<R>;
  }

  /** A group's next step as standalone models, with where each parameter sits. */
  exportStep(group: number): ExportedStep & { params: readonly ParamLayout[] } {
    this.assertUsable('exportStep');
    const member = this.member(group, 'exportStep');
    const { params: _names, ...options } = this.engine.paramGroups[group] as Record<string, unknown>;
    this.engine.algorithm.validate(options, `${this.engine.name}.exportStep`);
    const exported = exportStep(this.engine.algorithm, options as O, this.engine.groupState(group));
    return {
      ...exported,
      params: member.params.map(({ name, offset, size }) => ({
        name,
        offset,
        size,
        dims: this.context.dims.get(name)!,
      })),
    };
  }

  /** Creates the sessions the next step will use. */
  async compileNextSteps(): Promise<void> {
    const steps = this.engine.nextSteps();
    for (const member of this.engine.layout()) {
      const { program, scalars } = steps[member.group];
      await this.context.sessions.plan(planFor(graphOf(program), scalars), {
        length: member.size,
        gradParts: member.params.map((p) => p.size),
      });
    }
  }

  /** Releases the sessions (after the engine has released its tensors). */
  dispose(): Promise<void> {
    return this.context.sessions.dispose();
  }

  /** Every parameter's current tensor, per parameter (a promise only when device buffers are cut). */
  private current() {
    return joinViews(
      this.engine.layout().map((m) => perParameter(this.context, m, m.slots.param as OrtTensor, false)),
    );
  }

  /**
   * A callback for the engine that calls `fn` with the parameters as they are when it runs.
   * Anything but a function is passed on as is, for the engine to say what to pass.
   */
  private withCurrent<R>(
    fn: (params: Record<string, OrtTensor>) => R | PromiseLike<R>,
  ): () => R | PromiseLike<R> {
    if (typeof fn !== 'function') return fn;
    return () => {
      const views = this.current();
      return isThenable(views) ? (views.then(fn) as PromiseLike<R>) : fn(views);
    };
  }

  private member(group: number, method: string) {
    const members = this.engine.layout();
    const member = members.find((m) => m.group === group);
    check(
      Number.isInteger(group) && member !== undefined,
      'INVALID_OPTION',
      () =>
        `${this.engine.name}.${method}(${group}): there is no param group ${group}; groups are 0…${this.engine.paramGroups.length - 1}.`,
    );
    return member!;
  }

  private assertUsable(method: string): void {
    check(
      !this.engine.isDisposed,
      'DISPOSED',
      () => `${this.engine.name}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
  }
}
