import {
  type Algorithm,
  type Counters,
  check,
  graphOf,
  type Mode,
  type ParamGroup,
  type ProgramRun,
  type StateDict,
} from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { type CompiledProgram, ProgramCache } from './compiled.js';
import { type ExportedStep, exportStep } from './export.js';
import { CHECK_OUTPUT, lerpBranches, lerpWeights } from './lower.js';
import {
  createSession,
  describeUnusable,
  dimsOf,
  fillsPreallocatedOutputs,
  flatTensor,
  hostData,
  type OrtModule,
  type OrtTensor,
  onHost,
  readData,
  release,
  resolveOrt,
  scalarTensor,
  sizeOf,
  type TensorInput,
} from './runtime.js';
import { splitModel } from './split.js';
import { cloneOptions, planStateLoad, STATE_FORMAT } from './state-dict.js';

/** Where parameters and optimizer state live between steps. */
export type StateLocation = 'cpu' | 'gpu-buffer';

/** Options of the optimizer object (besides the algorithm's hyperparameters). */
export interface OnnxEngineOptions {
  /**
   * Execution providers of every session, e.g. `['wasm']`, `['webgpu']`, `['cpu']`. Default: the
   * runtime's default (wasm for onnxruntime-web, cpu for onnxruntime-node).
   */
  executionProviders?: InferenceSession.SessionOptions['executionProviders'];
  /** Further session options (graph optimization level, logging, …). */
  sessionOptions?: Omit<InferenceSession.SessionOptions, 'executionProviders' | 'preferredOutputLocation'>;
  /**
   * Where parameters and state stay between steps. Default `'gpu-buffer'` when the first execution
   * provider is WebGPU (nothing is read back per step), else `'cpu'`.
   */
  stateLocation?: StateLocation;
  /**
   * What a NaN or ±Infinity in a gradient does: `'throw'` (default) raises `NON_FINITE_GRAD`;
   * `'skip'` skips the whole step and `step` resolves to false. Gradients already on the GPU are
   * checked inside the step graph (one number per group is read back).
   */
  nonFiniteGrads?: 'throw' | 'skip';
}

/** Parameters: a record name → tensor, or groups each with their own option overrides. */
export type OnnxParams<O> =
  | Readonly<Record<string, TensorInput>>
  | ReadonlyArray<{ params: Readonly<Record<string, TensorInput>> } & Partial<O>>;

/** Constructor options: the algorithm's options plus {@link OnnxEngineOptions}. */
export type OnnxOptimizerOptions<O> = Partial<O> & OnnxEngineOptions;

const ENGINE_KEYS = ['executionProviders', 'sessionOptions', 'stateLocation', 'nonFiniteGrads'] as const;

/** One parameter's place in its group's flat buffers. */
interface ParamInfo {
  readonly name: string;
  readonly group: number;
  readonly offset: number;
  readonly size: number;
  readonly dims: readonly number[];
}

/** A group's flat buffers: `param` and the algorithm's state slots, all of one length. */
interface GroupStore {
  readonly params: readonly ParamInfo[];
  readonly length: number;
  slots: Record<string, OrtTensor>;
  /** Host buffers a runtime that fills preallocated outputs writes the next values into. */
  spare: Record<string, OrtTensor>;
  initialized: boolean;
  counters: Counters;
  /** Per-parameter tensors handed out by `params()`, released at the next change. */
  views: Record<string, OrtTensor> | null;
}

/** The outputs of one program run over a group, not yet adopted. */
interface PendingRun {
  readonly group: number;
  readonly outputs: Record<string, OrtTensor>;
  /** NaN when a gradient was not finite (device-side check). */
  readonly check: number;
}

/**
 * The shared machinery of the ONNX optimizers: parameter groups kept as flat buffers (one session
 * run per group and program), per-group counters, modes, validation, state dicts and disposal.
 * The math comes from a core {@link Algorithm}; every program is traced once, lowered to an ONNX
 * graph and run by one `InferenceSession` per program structure and group layout.
 *
 * Every method that touches buffers is async and calls are serialized in call order, so an
 * un-awaited `step` followed by `eval()` still runs in order.
 */
export abstract class OnnxOptimizerEngine<O extends object> {
  /** Parameter groups; change `lr` (or other options) here between steps. */
  readonly paramGroups: ParamGroup<O>[];
  protected readonly ort: OrtModule;
  protected readonly groups: GroupStore[];
  protected readonly byName = new Map<string, ParamInfo>();
  protected currentMode: Mode = 'eval';
  protected readonly nonFiniteGrads: 'throw' | 'skip';
  protected readonly location: StateLocation;
  private readonly sessionOptions: InferenceSession.SessionOptions;
  private readonly programs: ProgramCache;
  private readonly initialParams: Array<Record<string, TensorInput>>;
  private preallocate = false;
  private prepared = false;
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** > 0 while a user callback (closure) runs inside an operation: its calls run directly. */
  protected callbackDepth = 0;

  protected constructor(
    readonly algorithm: Algorithm<O>,
    ort: unknown,
    params: OnnxParams<O>,
    options: OnnxOptimizerOptions<O> = {},
  ) {
    const where = algorithm.name;
    this.ort = resolveOrt(ort, where);
    check(
      options !== null && typeof options === 'object' && !Array.isArray(options),
      'INVALID_OPTION',
      () => `${where}: options must be an object such as { lr: 0.01 }.`,
    );
    const all = options as Record<string, unknown>;
    const algoOptions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) {
      if (!(ENGINE_KEYS as readonly string[]).includes(k)) algoOptions[k] = v;
    }
    const { nonFiniteGrads = 'throw', executionProviders, sessionOptions = {}, stateLocation } = options;
    check(
      nonFiniteGrads === 'throw' || nonFiniteGrads === 'skip',
      'INVALID_OPTION',
      () =>
        `${where}: option "nonFiniteGrads" must be 'throw' or 'skip', got ${JSON.stringify(nonFiniteGrads)}.`,
    );
    check(
      executionProviders === undefined || Array.isArray(executionProviders),
      'INVALID_OPTION',
      () => `${where}: option "executionProviders" must be an array such as ['wasm'] or ['webgpu'].`,
    );
    const firstEp = executionProviders?.[0];
    const firstName = typeof firstEp === 'string' ? firstEp : firstEp?.name;
    const location = stateLocation ?? (firstName === 'webgpu' ? 'gpu-buffer' : 'cpu');
    check(
      location === 'cpu' || (location === 'gpu-buffer' && firstName === 'webgpu'),
      'INVALID_OPTION',
      () =>
        `${where}: option "stateLocation" must be 'cpu', or 'gpu-buffer' with executionProviders: ['webgpu']; got ${JSON.stringify(stateLocation)} with ${JSON.stringify(firstName ?? 'the default provider')}.`,
    );
    this.nonFiniteGrads = nonFiniteGrads;
    this.location = location;
    this.sessionOptions = { ...sessionOptions, ...(executionProviders ? { executionProviders } : {}) };
    this.programs = new ProgramCache(this.ort, this.sessionOptions, location, where);

    const groups = normalizeGroups<O>(where, params);
    this.initialParams = groups.map((g) => g.params);
    this.groups = [];
    this.paramGroups = groups.map(({ params: tensors, overrides }, gi) => {
      const groupWhere = groups.length > 1 ? `${where} (param group ${gi})` : where;
      const merged = cloneOptions({ ...algorithm.defaults, ...algoOptions, ...overrides }) as O;
      algorithm.validate(merged as Record<string, unknown>, groupWhere);
      const infos: ParamInfo[] = [];
      let offset = 0;
      for (const [name, tensor] of Object.entries(tensors)) {
        check(
          !this.byName.has(name),
          'INVALID_PARAMS',
          () => `${where}: parameter "${name}" appears in more than one group.`,
        );
        const problem = describeUnusable(tensor);
        check(problem === null, 'INVALID_PARAMS', () => `${where}: parameter "${name}": ${problem}.`);
        const size = sizeOf(tensor);
        check(size > 0, 'INVALID_PARAMS', () => `${where}: parameter "${name}" has no elements.`);
        const info = { name, group: gi, offset, size, dims: [...dimsOf(tensor)] };
        offset += size;
        infos.push(info);
        this.byName.set(name, info);
      }
      this.groups.push({
        params: infos,
        length: offset,
        slots: {},
        spare: {},
        initialized: false,
        counters: algorithm.initialCounters(),
        views: null,
      });
      return Object.assign(merged, { params: Object.freeze(infos.map((p) => p.name)) }) as ParamGroup<O>;
    });
  }

  /** Constructs and prepares an optimizer; any error, also from the constructor, rejects the promise. */
  protected static async build<E extends OnnxOptimizerEngine<object>>(make: () => E): Promise<E> {
    return make().prepare();
  }

  /**
   * Copies the parameters into the groups' flat buffers and creates the first step's session, so a
   * provider that cannot run the graph fails here. Called by the static `create` factories.
   */
  protected async prepare(): Promise<this> {
    for (const [gi, group] of this.groups.entries()) {
      const flat = new Float32Array(group.length);
      for (const p of group.params) flat.set(await readData(this.initialParams[gi][p.name]), p.offset);
      group.slots = { param: new this.ort.Tensor('float32', flat, [group.length]) };
    }
    this.initialParams.length = 0;
    this.preallocate =
      this.location === 'cpu' && (await fillsPreallocatedOutputs(this.ort, this.sessionOptions));
    try {
      for (const [gi, g] of this.paramGroups.entries()) {
        await this.compiled(gi, this.algorithm.planStep(g, this.groups[gi].counters));
      }
    } catch (error) {
      await this.programs.dispose();
      throw error;
    }
    this.prepared = true;
    return this;
  }

  /** `'train'` when parameters hold y, `'eval'` when they hold x. Optimizers start in eval mode. */
  get mode(): Mode {
    return this.currentMode;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Where parameters and state live between steps. */
  get stateLocation(): StateLocation {
    return this.location;
  }

  /** A group's counters: steps taken `k`, `lrMax`, `weightSum`, and the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    this.ensureUsable('groupState');
    check(
      group >= 0 && group < this.groups.length,
      'INVALID_OPTION',
      () => `groupState: no param group ${group}.`,
    );
    return { ...this.groups[group].counters };
  }

  /**
   * The current parameters (y in train mode, x in eval mode) by name, with the dimensions they were
   * given. They belong to the optimizer and are valid until its next `step`, `train`, `eval`,
   * `loadStateDict` or `dispose`: read them (`getData()`) or feed them to a model before that. On the
   * CPU they are views of the group's flat buffer; on the GPU, slices of it (a single-parameter
   * group's is the buffer itself).
   */
  params(): Promise<Record<string, OrtTensor>> {
    return this.serial('params', async () => {
      const result: Record<string, OrtTensor> = {};
      for (const [gi, group] of this.groups.entries()) {
        group.views ??= await this.perParameter(gi, group.slots.param, 'view');
        Object.assign(result, group.views);
      }
      return result;
    });
  }

  /**
   * A group's parameters as the one flat tensor the step graph reads (parameters concatenated in
   * order), owned by the optimizer; valid until the next change, like {@link params}.
   */
  flatParams(group = 0): OrtTensor {
    this.ensureUsable('flatParams');
    check(
      group >= 0 && group < this.groups.length,
      'INVALID_OPTION',
      () => `flatParams: no param group ${group}.`,
    );
    return this.groups[group].slots.param;
  }

  /**
   * The parameters at x (the evaluation point) as new tensors owned by the caller (dispose GPU ones
   * when done), without changing anything in the optimizer.
   */
  evalParams(): Promise<Record<string, OrtTensor>> {
    return this.serial('evalParams', async () => {
      const result: Record<string, OrtTensor> = {};
      const kind = this.algorithm.kind;
      const atY = this.currentMode === 'train' && (kind === 'fused' || kind === 'reference');
      for (const [gi, group] of this.groups.entries()) {
        if (atY && group.initialized) {
          const run = await this.runProgram(gi, this.algorithm.moveTo(this.paramGroups[gi], 'x'), {
            fresh: true,
          });
          for (const [slot, t] of Object.entries(run.outputs)) if (slot !== 'param') release(t);
          Object.assign(result, await this.perParameter(gi, run.outputs.param, 'transfer'));
        } else {
          Object.assign(result, await this.perParameter(gi, group.slots.param, 'copy'));
        }
      }
      return result;
    });
  }

  /** The full optimizer state as plain JSON, in the core's format (loadable by any backend's optimizer). */
  stateDict(): Promise<StateDict> {
    return this.serial('stateDict', async () => {
      const state: StateDict['state'] = {};
      for (const group of this.groups) {
        if (!group.initialized) continue;
        for (const [slot, tensor] of Object.entries(group.slots)) {
          if (slot === 'param') continue;
          const data = await readData(tensor);
          for (const p of group.params) {
            state[p.name] ??= {};
            state[p.name][slot] = Array.from(data.subarray(p.offset, p.offset + p.size));
          }
        }
      }
      return {
        format: STATE_FORMAT,
        optimizer: this.algorithm.name,
        mode: this.currentMode,
        groups: this.paramGroups.map((g, gi) => {
          const { params, ...options } = g as ParamGroup<O> & Record<string, unknown>;
          return {
            params: [...params],
            options: cloneOptions(options),
            counters: { ...this.groups[gi].counters },
            initialized: this.groups[gi].initialized,
          };
        }),
        state,
      };
    });
  }

  /**
   * A group's next step as standalone ONNX models (ModelProto bytes with a description of every
   * input and output) plus the scalar values of that step, so the same update runs in any ONNX
   * runtime (Python, C++, mobile). Tensors are 1-D of symbolic length `n`; `params` says where each
   * parameter sits in the flat buffers. Nothing changes in the optimizer.
   */
  exportStep(group = 0): ExportedStep & {
    params: ReadonlyArray<{ name: string; offset: number; size: number; dims: readonly number[] }>;
  } {
    this.ensureUsable('exportStep');
    check(
      group >= 0 && group < this.groups.length,
      'INVALID_OPTION',
      () => `exportStep: no param group ${group}.`,
    );
    const { params: _names, ...options } = this.paramGroups[group] as ParamGroup<O> & Record<string, unknown>;
    const exported = exportStep(this.algorithm, options as O, this.groups[group].counters);
    return {
      ...exported,
      params: this.groups[group].params.map(({ name, offset, size, dims }) => ({ name, offset, size, dims })),
    };
  }

  /**
   * Restores a state produced by `stateDict()` of an optimizer of the same class (on any backend;
   * parameters may be listed in another order: state is matched by name). Checks everything first:
   * a mismatch is a `STATE_MISMATCH` error and changes nothing. Parameters are not part of the
   * state: create the optimizer from the saved parameters, then load the state.
   */
  loadStateDict(stateDict: StateDict): Promise<void> {
    return this.serial('loadStateDict', async () => {
      const names = this.paramGroups.map((g) => g.params);
      const plans = planStateLoad(this.algorithm, names, this.byName, stateDict);
      for (const { group: gi, options, slots, saved } of plans) {
        const group = this.groups[gi];
        const target = this.paramGroups[gi] as Record<string, unknown>;
        for (const key of Object.keys(target)) if (key !== 'params') delete target[key];
        Object.assign(target, options);
        group.counters = { ...saved.counters };
        this.releaseState(gi);
        if (saved.initialized) {
          for (const spec of slots) {
            const flat = new Float32Array(group.length);
            for (const p of group.params) flat.set(stateDict.state[p.name][spec.name], p.offset);
            group.slots[spec.name] = new this.ort.Tensor('float32', flat, [group.length]);
          }
          group.initialized = true;
        }
      }
      this.currentMode = stateDict.mode;
    });
  }

  /**
   * Releases every session and buffer the optimizer created. Tensors from `params()` become invalid.
   * Any later call throws `DISPOSED`.
   */
  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    const done = this.queue.then(async () => {
      if (this.disposed) return;
      this.disposed = true;
      for (const [gi, group] of this.groups.entries()) {
        this.releaseState(gi);
        release(group.slots.param);
      }
      await this.programs.dispose();
    });
    this.queue = done.catch(() => {});
    return done;
  }

  /**
   * The compiled form of a program run over a group (traced, lowered, one session, cached), with its
   * lerp branches specialised to this run's scalars.
   */
  protected compiled(gi: number, run: ProgramRun, checkGrad = false): Promise<CompiledProgram> {
    const group = this.groups[gi];
    const gradParts = group.params.length > 1 ? group.params.map((p) => p.size) : undefined;
    const branches = lerpBranches(lerpWeights(graphOf(run.program)), run.scalars);
    return this.programs.get(run.program, { length: group.length, gradParts, checkGrad, branches });
  }

  /** Runs `fn` after every earlier call has finished (directly when called from inside a callback). */
  protected serial<R>(method: string, fn: () => Promise<R>): Promise<R> {
    try {
      this.ensureUsable(method);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.callbackDepth > 0) return fn();
    const run = this.queue.then(() => {
      this.ensureUsable(method);
      return fn();
    });
    this.queue = run.catch(() => {});
    return run;
  }

  protected ensureUsable(method: string): void {
    check(
      !this.disposed,
      'DISPOSED',
      () => `${this.algorithm.name}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
    check(
      this.prepared,
      'UNSUPPORTED',
      () =>
        `${this.algorithm.name}.${method}(): create optimizers with ${this.algorithm.name}.create(ort, params, options) and await it.`,
    );
  }

  /** Re-validates group options (users may have changed them since the last step). */
  protected validateGroups(): void {
    this.paramGroups.forEach((g, gi) => {
      const { params: _params, ...options } = g as ParamGroup<O> & Record<string, unknown>;
      const where =
        this.paramGroups.length > 1 ? `${this.algorithm.name} (param group ${gi})` : this.algorithm.name;
      this.algorithm.validate(options, where);
    });
  }

  /**
   * Checks a gradient record: known names only, one per parameter, float32, matching sizes, a
   * location this optimizer can read, finite host values. Returns false when the step must be
   * skipped (non-finite with `nonFiniteGrads: 'skip'`). Device gradients are checked in the graph.
   */
  protected checkGrads(grads: Readonly<Record<string, TensorInput>>, method: string): boolean {
    const where = `${this.algorithm.name}.${method}`;
    check(
      grads !== null && typeof grads === 'object' && !ArrayBuffer.isView(grads) && !Array.isArray(grads),
      'MISSING_GRAD',
      () => `${where}: expected a record of gradients keyed by parameter name, got ${describe(grads)}.`,
    );
    for (const name of Object.keys(grads)) {
      check(
        this.byName.has(name),
        'UNKNOWN_PARAM',
        () =>
          `${where}: gradient "${name}" does not match any parameter. Parameters are: ${[...this.byName.keys()].join(', ')}.`,
      );
    }
    let finite = true;
    for (const p of this.byName.values()) {
      const grad = grads[p.name];
      check(
        grad != null,
        'MISSING_GRAD',
        () =>
          `${where}: no gradient for parameter "${p.name}". Pass a gradient for every parameter (zeros for one that did not contribute).`,
      );
      const problem = describeUnusable(grad);
      check(problem === null, 'DTYPE_MISMATCH', () => `${where}: gradient "${p.name}": ${problem}.`);
      const size = sizeOf(grad);
      check(
        size === p.size,
        'SHAPE_MISMATCH',
        () => `${where}: gradient "${p.name}" has ${size} elements but the parameter has ${p.size}.`,
      );
      check(
        onHost(grad) || this.location === 'gpu-buffer',
        'DTYPE_MISMATCH',
        () =>
          `${where}: gradient "${p.name}" is a 'gpu-buffer' tensor, but this optimizer runs on the CPU; pass host data, or create the optimizer with executionProviders: ['webgpu'].`,
      );
      if (finite && onHost(grad) && !allFinite(hostData(grad))) {
        check(
          this.nonFiniteGrads === 'skip',
          'NON_FINITE_GRAD',
          () =>
            `${where}: gradient "${p.name}" contains NaN or Infinity; nothing was changed. Fix the loss or clip the gradients, or pass { nonFiniteGrads: 'skip' } to skip such steps.`,
        );
        finite = false;
      }
    }
    return finite;
  }

  /**
   * One step over every group: plans all groups first (pure), runs every group's program, and only
   * when all runs succeeded (and device gradients were finite) adopts the outputs and counters.
   * Resolves to false when the step was skipped.
   */
  protected async applyStep(grads: Readonly<Record<string, TensorInput>>, method: string): Promise<boolean> {
    const plans = this.paramGroups.map((g, gi) => this.algorithm.planStep(g, this.groups[gi].counters));
    const deviceGrads = Object.values(grads).some((g) => !onHost(g));
    const pending: PendingRun[] = [];
    try {
      for (const [gi, plan] of plans.entries()) {
        pending.push(await this.runProgram(gi, plan, { grads, checkGrad: deviceGrads }));
      }
    } catch (error) {
      for (const run of pending) this.discard(run);
      throw error;
    }
    const bad = pending.findIndex((run) => Number.isNaN(run.check));
    if (bad >= 0) {
      for (const run of pending) this.discard(run);
      const name = this.groups[bad].params.map((p) => p.name).join(', ');
      check(
        this.nonFiniteGrads === 'skip',
        'NON_FINITE_GRAD',
        () =>
          `${this.algorithm.name}.${method}: a gradient of ${name} contains NaN or Infinity; nothing was changed. Fix the loss or clip the gradients, or pass { nonFiniteGrads: 'skip' } to skip such steps.`,
      );
      return false;
    }
    for (const run of pending) this.adopt(run);
    plans.forEach((plan, gi) => {
      this.groups[gi].counters = plan.counters;
      this.groups[gi].initialized = true;
    });
    return true;
  }

  /**
   * Moves every initialized group's parameters to x or y (all runs first, then adoption). With
   * `keep`, the replaced parameter buffers are returned instead of released, for {@link restoreParams}.
   */
  protected async moveAll(target: 'x' | 'y', keep = false): Promise<OrtTensor[]> {
    const pending: PendingRun[] = [];
    try {
      for (const [gi, group] of this.groups.entries()) {
        if (group.initialized) {
          const run = this.algorithm.moveTo(this.paramGroups[gi], target);
          pending.push(await this.runProgram(gi, run, { fresh: keep }));
        }
      }
    } catch (error) {
      for (const run of pending) this.discard(run);
      throw error;
    }
    const previous = this.groups.map((g) => g.slots.param);
    for (const run of pending) this.adopt(run, keep);
    return previous;
  }

  /** Puts back parameter buffers kept by {@link moveAll}, releasing the current ones. */
  protected restoreParams(previous: readonly OrtTensor[]): void {
    previous.forEach((tensor, gi) => {
      const group = this.groups[gi];
      if (group.slots.param === tensor) return;
      this.releaseViews(group);
      release(group.slots.param);
      group.slots.param = tensor;
    });
  }

  /** Releases parameter buffers kept by {@link moveAll} that are no longer in use. */
  protected dropParams(previous: readonly OrtTensor[]): void {
    previous.forEach((tensor, gi) => {
      if (this.groups[gi].slots.param !== tensor) release(tensor);
    });
  }

  /**
   * Runs a program over one group: feeds its flat slots (an uninitialized group's state starts as a
   * copy of the parameters or zeros), the gradients and the scalars, and returns the outputs without
   * adopting them. With `fresh`, outputs never go into the group's spare buffers.
   */
  protected async runProgram(
    gi: number,
    run: ProgramRun,
    opts: { grads?: Readonly<Record<string, TensorInput>>; checkGrad?: boolean; fresh?: boolean },
  ): Promise<PendingRun> {
    const group = this.groups[gi];
    const compiled = await this.compiled(gi, run, opts.checkGrad);
    const slots = group.initialized ? group.slots : this.initialSlots(gi);
    const feeds: Record<string, OrtTensor> = {};
    for (const port of compiled.lowered.inputs) {
      if (port.kind === 'scalar') {
        const value = run.scalars[port.slot];
        if (typeof value !== 'number')
          throw new Error(`program ${run.program.key}: no scalar "${port.slot}"`);
        feeds[port.name] = scalarTensor(this.ort, value);
      } else if (port.kind === 'grad-part' || port.slot === 'grad') {
        const index = port.kind === 'grad-part' ? Number(port.name.slice('grad.'.length)) : 0;
        const p = group.params[index];
        feeds[port.name] = flatTensor(this.ort, opts.grads![p.name], p.size);
      } else {
        const tensor = slots[port.slot];
        if (!tensor) throw new Error(`program ${run.program.key}: no state slot "${port.slot}"`);
        feeds[port.name] = tensor;
      }
    }
    let fetches: Record<string, OrtTensor> | undefined;
    if (this.preallocate && !opts.fresh) {
      fetches = {};
      for (const port of compiled.lowered.outputs) {
        if (port.kind !== 'tensor') continue;
        fetches[port.name] =
          group.spare[port.slot] ??
          new this.ort.Tensor('float32', new Float32Array(group.length), [group.length]);
      }
    }
    const results = fetches ? await compiled.session.run(feeds, fetches) : await compiled.session.run(feeds);
    const outputs: Record<string, OrtTensor> = {};
    let checkValue = 0;
    for (const port of compiled.lowered.outputs) {
      if (port.kind === 'check') {
        checkValue = ((results[CHECK_OUTPUT] as OrtTensor).data as Float32Array)[0];
        continue;
      }
      // A runtime that filled our buffer may still return another tensor object over other memory.
      outputs[port.slot] = fetches ? fetches[port.name] : (results[port.name] as OrtTensor);
    }
    return { group: gi, outputs, check: checkValue };
  }

  /** Releases the outputs of a run that will not be adopted. */
  private discard(run: PendingRun): void {
    for (const t of Object.values(run.outputs)) release(t);
  }

  /**
   * Takes a run's outputs as the group's slots; replaced buffers become spares or are released
   * (`keep`: left alone, the caller holds them).
   */
  private adopt(run: PendingRun, keep = false): void {
    const group = this.groups[run.group];
    this.releaseViews(group);
    for (const [slot, tensor] of Object.entries(run.outputs)) {
      const old = group.slots[slot];
      group.slots[slot] = tensor;
      if (group.spare[slot] === tensor) delete group.spare[slot];
      if (keep || !old || old === tensor) continue;
      // The replaced host buffer receives the run after next (ping-pong); device buffers are freed.
      if (this.preallocate && onHost(old)) group.spare[slot] = old;
      else release(old);
    }
  }

  /** `param` plus state slots as they start: copies of the parameters (`clone`) or zeros. */
  private initialSlots(gi: number): Record<string, OrtTensor> {
    const group = this.groups[gi];
    const slots: Record<string, OrtTensor> = { param: group.slots.param };
    for (const spec of this.algorithm.slots(this.paramGroups[gi])) {
      // A run never writes its inputs, so the parameter buffer itself serves as the initial copy.
      slots[spec.name] =
        spec.init === 'clone'
          ? group.slots.param
          : new this.ort.Tensor('float32', new Float32Array(group.length), [group.length]);
    }
    return slots;
  }

  /**
   * Per-parameter tensors over a flat group buffer. `view`: the optimizer keeps ownership (host
   * views, or GPU slices released at the next change); `copy`: new tensors for the caller;
   * `transfer`: the caller takes over `flat` itself (a buffer made for it).
   */
  private async perParameter(
    gi: number,
    flat: OrtTensor,
    mode: 'view' | 'copy' | 'transfer',
  ): Promise<Record<string, OrtTensor>> {
    const group = this.groups[gi];
    const result: Record<string, OrtTensor> = {};
    if (onHost(flat)) {
      const data = hostData(flat);
      for (const p of group.params) {
        const part = data.subarray(p.offset, p.offset + p.size);
        result[p.name] = new this.ort.Tensor('float32', mode === 'copy' ? part.slice() : part, p.dims);
      }
      return result;
    }
    if (group.params.length === 1 && mode !== 'copy') {
      // The buffer itself with the parameter's dimensions, read through the original tensor; a
      // transferred one is freed with its view.
      const p = group.params[0];
      result[p.name] = this.ort.Tensor.fromGpuBuffer(flat.gpuBuffer, {
        dataType: 'float32',
        dims: p.dims,
        download: () => flat.getData() as Promise<Float32Array>,
        ...(mode === 'transfer' ? { dispose: () => flat.dispose() } : {}),
      });
      return result;
    }
    const session = await this.programs.session(`split:${gi}`, () =>
      createSession(
        this.ort,
        splitModel(group.params, group.length),
        { ...this.sessionOptions, preferredOutputLocation: 'gpu-buffer' },
        this.algorithm.name,
      ),
    );
    const outputs = await session.run({ flat });
    if (mode === 'transfer') flat.dispose();
    group.params.forEach((p, i) => {
      result[p.name] = outputs[`p.${i}`] as OrtTensor;
    });
    return result;
  }

  private releaseViews(group: GroupStore): void {
    if (!group.views) return;
    // Single-parameter GPU views share the group's buffer and own nothing; slices own theirs.
    if (group.params.length > 1) for (const t of Object.values(group.views)) release(t);
    group.views = null;
  }

  private releaseState(gi: number): void {
    const group = this.groups[gi];
    this.releaseViews(group);
    for (const [slot, tensor] of Object.entries(group.slots)) if (slot !== 'param') release(tensor);
    group.slots = { param: group.slots.param };
    for (const [slot, tensor] of Object.entries(group.spare)) if (slot !== 'param') release(tensor);
    group.spare = group.spare.param ? { param: group.spare.param } : {};
    group.initialized = false;
  }
}

/** True when every element is finite: x·0 is 0 for finite x and NaN otherwise. */
function allFinite(a: Float32Array): boolean {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length;
  const whole = n - (n % 4);
  let i = 0;
  for (; i < whole; i += 4) {
    s0 += a[i] * 0;
    s1 += a[i + 1] * 0;
    s2 += a[i + 2] * 0;
    s3 += a[i + 3] * 0;
  }
  for (; i < n; i++) s0 += a[i] * 0;
  return s0 + s1 + s2 + s3 === 0;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function normalizeGroups<O>(
  where: string,
  params: OnnxParams<O>,
): Array<{ params: Readonly<Record<string, TensorInput>>; overrides: Partial<O> }> {
  check(
    params != null && typeof params === 'object' && !ArrayBuffer.isView(params),
    'INVALID_PARAMS',
    () => `${where}: params must be a record name → tensor or an array of groups { params, ...options }.`,
  );
  const groups = Array.isArray(params)
    ? (params as ReadonlyArray<{ params: Readonly<Record<string, TensorInput>> } & Partial<O>>).map(
        (g, gi) => {
          check(
            g && typeof g === 'object' && g.params && typeof g.params === 'object',
            'INVALID_PARAMS',
            () =>
              `${where}: param group ${gi} must be an object { params: { name: tensor, ... }, ...options }.`,
          );
          const { params: p, ...overrides } = g;
          return { params: p, overrides: overrides as Partial<O> };
        },
      )
    : [{ params: params as Readonly<Record<string, TensorInput>>, overrides: {} as Partial<O> }];
  check(groups.length > 0, 'INVALID_PARAMS', () => `${where}: no parameter groups were given.`);
  for (const [gi, g] of groups.entries()) {
    check(
      Object.keys(g.params).length > 0,
      'INVALID_PARAMS',
      () => `${where}: param group ${gi} has no parameters.`,
    );
  }
  return groups;
}
