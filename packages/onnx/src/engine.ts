import {
  type Algorithm,
  check,
  cloneOptions,
  graphOf,
  type Mode,
  nonFiniteMessage,
  normalizeGroups,
  type ParamGroup,
  type ProgramRun,
  planStateLoad,
  STATE_FORMAT,
  type StateDict,
} from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { type CompiledProgram, ProgramCache } from './compiled.js';
import { type ExportedStep, exportStep } from './export.js';
import { FlatGroup, type ParamInfo, type PendingRun } from './group.js';
import {
  checkGrads,
  checkParam,
  type OnnxOptimizerOptions,
  type OnnxParams,
  parseOptions,
  type StateLocation,
} from './inputs.js';
import { lerpBranches, lerpWeights } from './lower.js';
import {
  createSession,
  dimsOf,
  fillsPreallocatedOutputs,
  type OrtModule,
  type OrtTensor,
  onHost,
  readData,
  release,
  resolveOrt,
  type TensorInput,
} from './runtime.js';
import { splitModel } from './split.js';

export type { OnnxEngineOptions, OnnxOptimizerOptions, OnnxParams, StateLocation } from './inputs.js';

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
  protected readonly groups: FlatGroup[];
  protected readonly byName = new Map<string, ParamInfo>();
  protected currentMode: Mode = 'eval';
  protected readonly nonFiniteGrads: 'throw' | 'skip';
  protected readonly location: StateLocation;
  private readonly sessionOptions: InferenceSession.SessionOptions;
  private readonly programs: ProgramCache;
  private readonly initialParams: Array<Readonly<Record<string, TensorInput>>>;
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
    const parsed = parseOptions(where, options);
    this.nonFiniteGrads = parsed.nonFiniteGrads;
    this.location = parsed.location;
    this.sessionOptions = parsed.sessionOptions;
    this.programs = new ProgramCache(this.ort, this.sessionOptions, this.location, where);

    const groups = normalizeGroups<TensorInput, O>(where, params);
    this.initialParams = groups.map((g) => g.params);
    this.groups = [];
    this.paramGroups = groups.map(({ params: tensors, overrides }, gi) => {
      const groupWhere = groups.length > 1 ? `${where} (param group ${gi})` : where;
      const merged = cloneOptions({ ...algorithm.defaults, ...parsed.algorithmOptions, ...overrides }) as O;
      algorithm.validate(merged as Record<string, unknown>, groupWhere);
      const infos: ParamInfo[] = [];
      let offset = 0;
      for (const [name, tensor] of Object.entries(tensors)) {
        check(
          !this.byName.has(name),
          'INVALID_PARAMS',
          () => `${where}: parameter "${name}" appears in more than one group.`,
        );
        const size = checkParam(where, name, tensor);
        const info = { name, group: gi, offset, size, dims: [...dimsOf(tensor)] };
        offset += size;
        infos.push(info);
        this.byName.set(name, info);
      }
      this.groups.push(new FlatGroup(this.ort, infos, offset, algorithm.initialCounters()));
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
    const preallocate =
      this.location === 'cpu' && (await fillsPreallocatedOutputs(this.ort, this.sessionOptions));
    for (const group of this.groups) group.preallocate = preallocate;
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
        group.views ??= await group.perParameter(group.slots.param, 'view', () => this.splitSession(gi));
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
          Object.assign(
            result,
            await group.perParameter(run.outputs.param, 'transfer', () => this.splitSession(gi)),
          );
        } else {
          Object.assign(
            result,
            await group.perParameter(group.slots.param, 'copy', () => this.splitSession(gi)),
          );
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
        group.releaseState();
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
      for (const group of this.groups) {
        group.releaseState();
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
    const branches = lerpBranches(lerpWeights(graphOf(run.program)), run.scalars);
    return this.programs.get(run.program, {
      length: group.length,
      gradParts: group.gradParts,
      checkGrad,
      branches,
    });
  }

  /** The session cutting a group's flat GPU buffer into its parameters. */
  private splitSession(gi: number): Promise<InferenceSession> {
    const group = this.groups[gi];
    return this.programs.session(`split:${gi}`, () =>
      createSession(
        this.ort,
        splitModel(group.params, group.length),
        { ...this.sessionOptions, preferredOutputLocation: 'gpu-buffer' },
        this.algorithm.name,
      ),
    );
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
   * Checks a gradient record (see `checkGrads` in inputs.ts). Returns false when the step must be
   * skipped (non-finite host gradient with `nonFiniteGrads: 'skip'`).
   */
  protected checkGrads(grads: Readonly<Record<string, TensorInput>>, method: string): boolean {
    return checkGrads(`${this.algorithm.name}.${method}`, this.byName, grads, {
      location: this.location,
      nonFiniteGrads: this.nonFiniteGrads,
    });
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
      for (const run of pending) run.group.discard(run);
      throw error;
    }
    const bad = pending.find((run) => Number.isNaN(run.check));
    if (bad) {
      for (const run of pending) run.group.discard(run);
      const names = bad.group.params.map((p) => `"${p.name}"`).join(' or ');
      check(this.nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () =>
        nonFiniteMessage(`${this.algorithm.name}.${method}`, names),
      );
      return false;
    }
    for (const run of pending) run.group.adopt(run);
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
      for (const run of pending) run.group.discard(run);
      throw error;
    }
    const previous = this.groups.map((g) => g.slots.param);
    for (const run of pending) run.group.adopt(run, keep);
    return previous;
  }

  /** Puts back parameter buffers kept by {@link moveAll}, releasing the current ones. */
  protected restoreParams(previous: readonly OrtTensor[]): void {
    previous.forEach((tensor, gi) => {
      const group = this.groups[gi];
      if (group.slots.param === tensor) return;
      group.releaseViews();
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
   * Runs a program over one group and returns its outputs without adopting them. With `fresh`, the
   * outputs are new buffers (never the group's spares), for handing out.
   */
  protected async runProgram(
    gi: number,
    run: ProgramRun,
    opts: { grads?: Readonly<Record<string, TensorInput>>; checkGrad?: boolean; fresh?: boolean },
  ): Promise<PendingRun> {
    const compiled = await this.compiled(gi, run, opts.checkGrad);
    const stateSlots = this.algorithm.slots(this.paramGroups[gi]);
    return this.groups[gi].run(compiled, run, { grads: opts.grads, fresh: opts.fresh, stateSlots });
  }
}
