import type { Algorithm, AlgorithmKind, Counters, ProgramRun } from '../algorithm.js';
import { type Backend, checkBackend, type MemberRun, type RunReport } from '../backend.js';
import { check } from '../errors.js';
import { checkGradientRecord, nonFiniteMessage, normalizeGroups, type ParamsInput } from '../inputs.js';
import { graphOf } from '../ir/graph-cache.js';
import { composeRuns } from '../program-compose.js';
import {
  cloneOptions,
  hostLength,
  type Mode,
  planStateLoad,
  STATE_FORMAT,
  type StateDict,
} from '../state-dict.js';
import { type Member, type MemberView, memberSizes, type ParamPlace } from './layout.js';
import { Scheduler } from './scheduler.js';
import { immediate, type Work, wait, waitAll } from './work.js';

/** Options of the optimizer object itself (not of the algorithm). */
export interface EngineOptions {
  /**
   * What a NaN or ±Infinity in a gradient does: `'throw'` (default) raises `NON_FINITE_GRAD`;
   * `'skip'` skips the whole step (no buffer or counter changes) and the step reports false.
   */
  nonFiniteGrads?: 'throw' | 'skip';
}

/** A parameter group as exposed to users: its options (mutable between steps) and parameter names. */
export type ParamGroup<O> = O & { readonly params: readonly string[] };

/** What a closure returns: the gradients, or `{ loss, grads }`. */
export type ClosureResult<T> =
  | Readonly<Record<string, T>>
  | { loss?: number; grads: Readonly<Record<string, T>> };

/**
 * One call on the engine, made of its call-time part (checks, and captures of what it depends on)
 * and the work that takes effect. Run it with {@link Engine.now} or {@link Engine.later}.
 */
export interface Operation<R> {
  readonly method: string;
  /** Call time: checks and captures; `deferred` when the work will run later. */
  prepare(deferred: boolean): () => Work<R>;
}

/** How the engine words what the adapter's users must do. */
export interface EngineHints {
  /** Appended to the message of a step in eval mode. */
  readonly wrongMode?: string;
  /** The message when a synchronous call would have to wait for the device. */
  readonly needsAsync?: (method: string) => string;
}

/** Everything the engine needs to exist. */
export interface EngineInit<T, O extends object> {
  readonly algorithm: Algorithm<O>;
  readonly backend: Backend<T>;
  readonly params: ParamsInput<T, O>;
  /** The algorithm's options for every group, plus {@link EngineOptions}. */
  readonly options?: unknown;
  /** Class name used in messages (default: the algorithm's name). */
  readonly name?: string;
  readonly hints?: EngineHints;
}

const MOVES: ReadonlySet<AlgorithmKind> = new Set(['fused', 'reference']);

type Options = Record<string, unknown>;

/** One group's program run, with what it consumes. */
interface GroupRun {
  readonly gi: number;
  readonly run: ProgramRun;
}

/** A backup of parameters taken before moving them, to put them back exactly. */
interface ParamBackup<T> {
  /** Tensors the moves must not release (the backups themselves, on immutable backends). */
  readonly keep: ReadonlySet<T>;
  restore(): void;
  release(): void;
}

/**
 * The optimizer engine: parameter groups and their options, per-parameter state, per-group
 * counters, modes, validation, state dicts and disposal, for any {@link Algorithm} over any
 * {@link Backend}. Written once; every adapter's optimizer classes are façades over it, synchronous
 * ({@link now}) or asynchronous ({@link later}).
 *
 * Each operation plans everything on the host first, then runs the backend, then commits: a call
 * that fails changes nothing (gradients are checked, options validated and state dicts planned
 * before any tensor is touched; on backends that report device-side checks, outputs are discarded).
 */
export class Engine<T, O extends object> {
  readonly algorithm: Algorithm<O>;
  readonly backend: Backend<T>;
  /** Parameter groups; change `lr` (or other options) here between steps. */
  readonly paramGroups: ParamGroup<O>[];
  /** Name used in messages. */
  readonly name: string;
  private readonly members: Member<T>[] = [];
  private readonly places = new Map<string, ParamPlace>();
  private counters: Counters[];
  private initialized: boolean[];
  private currentMode: Mode = 'eval';
  private readonly nonFiniteGrads: 'throw' | 'skip';
  private readonly scheduler: Scheduler;
  private readonly hints: EngineHints;
  private disposed = false;
  private disposing = false;
  private retiredBecause: string | null = null;

  constructor(init: EngineInit<T, O>) {
    const { algorithm, backend } = init;
    const where = init.name ?? algorithm.name;
    checkBackend(backend as Backend<unknown>, where);
    this.algorithm = algorithm;
    this.backend = backend;
    this.name = where;
    this.hints = init.hints ?? {};
    this.scheduler = new Scheduler(where);
    const options = init.options ?? {};
    check(
      options !== null && typeof options === 'object' && !Array.isArray(options),
      'INVALID_OPTION',
      () =>
        `${where}: options must be an object such as { lr: 0.01 }, got ${Array.isArray(options) ? 'an array' : JSON.stringify(options)}.`,
    );
    const { nonFiniteGrads = 'throw', ...algorithmOptions } = options as Options;
    check(
      nonFiniteGrads === 'throw' || nonFiniteGrads === 'skip',
      'INVALID_OPTION',
      () =>
        `${where}: option "nonFiniteGrads" must be 'throw' or 'skip', got ${JSON.stringify(nonFiniteGrads)}.`,
    );
    this.nonFiniteGrads = nonFiniteGrads;
    const storage = backend.storage;
    const groups = normalizeGroups<T, O>(where, init.params);
    const seen = new Map<T, string>();
    const names = new Set<string>();
    this.paramGroups = groups.map(({ params: tensors, overrides }, gi) => {
      const groupWhere = groups.length > 1 ? `${where} (param group ${gi})` : where;
      const merged = cloneOptions({ ...algorithm.defaults, ...algorithmOptions, ...overrides }) as O;
      algorithm.validate(merged as Options, groupWhere);
      for (const [name, tensor] of Object.entries(tensors)) {
        check(
          !names.has(name),
          'INVALID_PARAMS',
          () =>
            `${where}: parameter "${name}" appears in more than one group. Give each parameter one group.`,
        );
        names.add(name);
        check(
          storage.accepts(tensor),
          'INVALID_PARAMS',
          () => `${where}: parameter "${name}" is not a tensor this backend (${backend.name}) accepts.`,
        );
        const twin = seen.get(tensor);
        check(
          twin === undefined,
          'INVALID_PARAMS',
          () =>
            `${where}: parameters "${twin}" and "${name}" are the same tensor; it would be updated twice per step. Pass each tensor once.`,
        );
        seen.set(tensor, name);
      }
      return Object.assign(merged, { params: Object.freeze(Object.keys(tensors)) }) as ParamGroup<O>;
    });
    groups.forEach(({ params: tensors }, gi) => this.addMembers(gi, tensors));
    this.counters = this.paramGroups.map(() => algorithm.initialCounters());
    this.initialized = this.paramGroups.map(() => false);
  }

  private addMembers(gi: number, tensors: Readonly<Record<string, T>>): void {
    const storage = this.backend.storage;
    const names = Object.keys(tensors);
    if (this.backend.capabilities.layout === 'flat') {
      check(
        typeof storage.concat === 'function',
        'UNSUPPORTED',
        () => `${this.backend.name}: a flat layout needs storage.concat.`,
      );
      const parts = names.map((n) => tensors[n]);
      const member = this.members.length;
      let offset = 0;
      const params = names.map((name, i) => {
        const place = { name, group: gi, member, offset, size: storage.size(parts[i]) };
        offset += place.size;
        this.places.set(name, place);
        return place;
      });
      this.members.push({
        group: gi,
        params,
        size: offset,
        slots: { param: storage.concat!(parts) },
        ownsParam: true,
      });
      return;
    }
    for (const name of names) {
      const place = {
        name,
        group: gi,
        member: this.members.length,
        offset: 0,
        size: storage.size(tensors[name]),
      };
      this.places.set(name, place);
      this.members.push({
        group: gi,
        params: [place],
        size: place.size,
        slots: { param: tensors[name] },
        ownsParam: false,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // State that reads at once.

  /** `'train'` when parameters hold y, `'eval'` when they hold x. Optimizers start in eval mode. */
  get mode(): Mode {
    return this.currentMode;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed || this.disposing;
  }

  /** Per-parameter layout: the parameter tensors by name. */
  get params(): Readonly<Record<string, T>> {
    return Object.fromEntries(
      [...this.places.values()].map((p) => [p.name, this.members[p.member].slots.param]),
    );
  }

  /** The members and their current tensors (for adapters: views, read-backs, device handles). */
  layout(): ReadonlyArray<MemberView<T>> {
    return this.members;
  }

  /** Where a parameter lives, or undefined for an unknown name. */
  place(name: string): ParamPlace | undefined {
    return this.places.get(name);
  }

  /** A group's counters: steps taken `k`, `lrMax`, `weightSum`, and the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    this.ensureUsable('groupState');
    check(
      Number.isInteger(group) && group >= 0 && group < this.counters.length,
      'INVALID_OPTION',
      () =>
        `${this.name}.groupState(${group}): there is no param group ${group}; groups are 0…${this.counters.length - 1}.`,
    );
    return { ...this.counters[group] };
  }

  /** The programs the next step would run (pure: nothing changes), e.g. to compile them ahead. */
  nextSteps(): ProgramRun[] {
    return this.snapshotOptions().map((o, gi) => this.algorithm.planStep(o as O, this.counters[gi]));
  }

  /** Resolves once every call made so far has taken effect. */
  settled(): Promise<void> {
    return this.scheduler.settled();
  }

  // ---------------------------------------------------------------------------------------------
  // Drivers.

  /** Runs an operation now, synchronously. */
  now<R>(op: Operation<R>): R {
    return this.scheduler.now(op.method, op.prepare(false), () =>
      this.hints.needsAsync
        ? this.hints.needsAsync(op.method)
        : `${this.name}.${op.method}() needs to wait for ${this.backend.name}; use the asynchronous form of this call.`,
    );
  }

  /** Runs an operation now, or, if it has to wait for a user callback's promise, returns a promise. */
  nowOrLater<R>(op: Operation<R>): R | Promise<R> {
    this.scheduler.assertNotInCallback(op.method);
    return this.scheduler.nowOrLater(op.method, op.prepare(false));
  }

  /** Queues an operation after every earlier asynchronous call; its call-time part runs now. */
  later<R>(op: Operation<R>): Promise<R> {
    return this.scheduler.later(op.method, () => op.prepare(true));
  }

  // ---------------------------------------------------------------------------------------------
  // Operations.

  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): Operation<void> {
    return this.modeSwitch('train');
  }

  /** Switch to eval mode: parameters move to x. A no-op when already in eval mode. */
  eval(): Operation<void> {
    return this.modeSwitch('eval');
  }

  private modeSwitch(target: Mode): Operation<void> {
    return {
      method: target,
      prepare: () => {
        this.ensureUsable(target);
        check(
          MOVES.has(this.algorithm.kind),
          'UNSUPPORTED',
          () =>
            `${this.name} has no train or eval mode: ${this.algorithm.kind === 'closure' ? 'closure classes keep x between steps and move to y inside step(closure)' : 'its parameters are the iterate'}.`,
        );
        const options = this.snapshotOptions();
        const engine = this;
        return function* () {
          if (engine.currentMode === target) return;
          yield* engine.moveAll(target === 'train' ? 'y' : 'x', options);
          engine.currentMode = target;
        };
      },
    };
  }

  /**
   * One step with gradients keyed by parameter name, taken at the stored parameters (y). Reports
   * false when skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`).
   */
  step(grads: Readonly<Record<string, T>>): Operation<boolean> {
    return {
      method: 'step',
      prepare: (deferred) => {
        this.ensureUsable('step');
        check(
          this.algorithm.kind !== 'closure',
          'MISSING_GRAD',
          () => `${this.name}.step() needs a closure returning the gradients: step(() => grads).`,
        );
        const options = this.snapshotOptions();
        const captured = deferred ? this.captureGrads(grads) : { grads, release() {} };
        const engine = this;
        return function* () {
          try {
            return yield* engine.stepWork(captured.grads, options);
          } finally {
            captured.release();
          }
        };
      },
    };
  }

  private *stepWork(grads: Readonly<Record<string, T>>, options: Options[]): Work<boolean> {
    if (MOVES.has(this.algorithm.kind)) {
      check(
        this.currentMode === 'train',
        'WRONG_MODE',
        () =>
          `${this.name}.step() was called in eval mode, where the parameters hold x (the average). Call optimizer.train() before training steps, and optimizer.eval() before evaluating or saving.${this.hints.wrongMode ? ` ${this.hints.wrongMode}` : ''}`,
      );
    }
    const verdict = yield* this.checkGrads(grads, 'step');
    if (verdict.skip) return false;
    const plans = options.map((o, gi) => this.algorithm.planStep(o as O, this.counters[gi]));
    const finite = yield* this.execute(
      plans.map((run, gi) => ({ gi, run })),
      options,
      grads,
      verdict.deviceCheck,
    );
    if (!finite) return this.deviceNonFinite('step');
    this.counters = plans.map((p) => p.counters);
    return true;
  }

  /**
   * One step whose gradients come from `closure`, called while the parameters hold y: closure
   * classes (parameters hold x between steps), and train/eval classes in either mode (in eval mode
   * the parameters move to y for the closure and end at x, in one fused pass). Returns the closure's
   * loss, if any. If the closure throws or returns bad gradients, or sets invalid options, the
   * parameters are restored exactly and nothing else changes.
   */
  closureStep(
    closure: () => ClosureResult<T> | PromiseLike<ClosureResult<T>>,
  ): Operation<number | undefined> {
    return {
      method: 'step',
      prepare: () => {
        this.ensureUsable('step');
        check(
          typeof closure === 'function',
          'MISSING_GRAD',
          () => `${this.name}.step(closure) needs a function returning the gradients, got ${typeof closure}.`,
        );
        const options = this.snapshotOptions();
        const engine = this;
        return () => engine.closureWork(closure, options);
      },
    };
  }

  private *closureWork(
    closure: () => ClosureResult<T> | PromiseLike<ClosureResult<T>>,
    options: Options[],
  ): Work<number | undefined> {
    const kind = this.algorithm.kind;
    const moves = kind === 'closure' || (MOVES.has(kind) && this.currentMode === 'eval');
    const backup = moves ? this.backupParams() : null;
    try {
      if (moves) yield* this.moveAll('y', options, backup!.keep);
      const before = this.liveOptions();
      const result = yield* wait(this.scheduler.guard('step(closure)', closure));
      const { loss, grads } = unpackClosureResult(result, `${this.name}.step(closure)`);
      // Options the closure changed take effect now, checked first.
      const effective = overlayChanges(options, before, this.liveOptions());
      this.validateOptions(effective);
      const verdict = yield* this.checkGrads(grads, 'step');
      if (verdict.skip) {
        backup?.restore();
        return loss;
      }
      const plans = effective.map((o, gi) => this.algorithm.planStep(o as O, this.counters[gi]));
      const runs = plans.map((plan, gi) => ({
        gi,
        run:
          MOVES.has(kind) && moves ? composeRuns(plan, this.algorithm.moveTo(effective[gi] as O, 'x')) : plan,
      }));
      const finite = yield* this.execute(runs, effective, grads, verdict.deviceCheck, backup?.keep);
      if (!finite) {
        backup?.restore();
        this.deviceNonFinite('step');
        return loss;
      }
      this.counters = plans.map((p) => p.counters);
      backup?.release();
      return loss;
    } catch (error) {
      backup?.restore();
      throw error;
    }
  }

  /**
   * The parameters at x (the evaluation point) as new tensors owned by the caller, one per member
   * (per parameter, or per group with the flat layout), without changing anything.
   */
  evalParams(): Operation<T[]> {
    return {
      method: 'evalParams',
      prepare: () => {
        this.ensureUsable('evalParams');
        const options = this.snapshotOptions();
        return () => this.evalParamsWork(options);
      },
    };
  }

  private *evalParamsWork(options: Options[]): Work<T[]> {
    const { storage, capabilities } = this.backend;
    const atY = this.currentMode === 'train' && MOVES.has(this.algorithm.kind);
    const result: T[] = new Array(this.members.length);
    const index = new Map(this.members.map((m, i) => [m, i]));
    for (let gi = 0; gi < this.paramGroups.length; gi++) {
      const members = this.groupMembers(gi);
      if (!(atY && this.initialized[gi])) {
        for (const m of members) result[index.get(m)!] = storage.clone(m.slots.param);
        continue;
      }
      const { program, scalars } = this.algorithm.moveTo(options[gi] as O, 'x');
      const inputs = members.map((m) =>
        capabilities.immutable ? m.slots.param : storage.clone(m.slots.param),
      );
      const runs: MemberRun<T>[] = members.map((m, i) => ({
        slots: { ...m.slots, param: inputs[i] },
        sizes: memberSizes(m),
      }));
      yield* wait(
        this.backend.execution.run({
          program,
          graph: graphOf(program),
          scalars,
          group: gi,
          members: runs,
          checkGradients: false,
        }),
      );
      members.forEach((m, i) => {
        const out = runs[i].slots.param;
        if (out !== inputs[i] && !capabilities.immutable) storage.dispose(inputs[i]);
        for (const name of program.outputs) {
          if (name !== 'param' && runs[i].slots[name] !== m.slots[name]) storage.dispose(runs[i].slots[name]);
        }
        result[index.get(m)!] = out === m.slots.param ? storage.clone(out) : out;
      });
    }
    return result;
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when `fn` throws or
   * its promise rejects). In eval mode it simply calls `fn`. Calls on the optimizer from inside `fn`
   * are refused.
   */
  withEvalParams<R>(fn: () => R): Operation<R> {
    return {
      method: 'withEvalParams',
      prepare: () => {
        this.ensureUsable('withEvalParams');
        check(
          typeof fn === 'function',
          'INVALID_OPTION',
          () => `${this.name}.withEvalParams(fn) needs a function, got ${typeof fn}.`,
        );
        const options = this.snapshotOptions();
        return () => this.withEvalParamsWork(fn, options);
      },
    };
  }

  private *withEvalParamsWork<R>(fn: () => R, options: Options[]): Work<R> {
    const call = () => this.scheduler.guard('withEvalParams(fn)', fn);
    if (this.currentMode === 'eval' || !MOVES.has(this.algorithm.kind)) {
      return (yield* wait(call())) as R;
    }
    const backup = this.backupParams();
    try {
      yield* this.moveAll('x', options, backup.keep);
      return (yield* wait(call())) as R;
    } finally {
      backup.restore();
    }
  }

  /** The full optimizer state as plain JSON, keyed by parameter name. */
  stateDict(): Operation<StateDict> {
    return {
      method: 'stateDict',
      prepare: () => {
        this.ensureUsable('stateDict');
        const options = this.snapshotOptions();
        return () => this.stateDictWork(options);
      },
    };
  }

  private *stateDictWork(options: Options[]): Work<StateDict> {
    const storage = this.backend.storage;
    const reads: Array<{ member: Member<T>; slot: string }> = [];
    for (const member of this.members) {
      if (!this.initialized[member.group]) continue;
      for (const slot of Object.keys(member.slots)) if (slot !== 'param') reads.push({ member, slot });
    }
    const values = yield* waitAll(reads.map(({ member, slot }) => storage.read(member.slots[slot])));
    const state: StateDict['state'] = {};
    reads.forEach(({ member, slot }, i) => {
      for (const p of member.params) {
        const data = values[i];
        state[p.name] ??= {};
        state[p.name][slot] = Array.from(
          data.length === p.size ? data : data.subarray(p.offset, p.offset + p.size),
        );
      }
    });
    return { ...this.describe(options), state };
  }

  /** A state dict's header (everything but the buffers). */
  private describe(options: readonly Options[]): StateDict<unknown> {
    return {
      format: STATE_FORMAT,
      optimizer: this.algorithm.name,
      mode: this.currentMode,
      groups: this.paramGroups.map((g, gi) => ({
        params: [...g.params],
        options: cloneOptions(options[gi]),
        counters: { ...this.counters[gi] },
        initialized: this.initialized[gi],
      })),
      state: {},
    };
  }

  /**
   * Restores a state produced by `stateDict()` of an optimizer of the same class on any backend
   * (matched by parameter name). Everything is checked first: a mismatch is a `STATE_MISMATCH` error
   * that changes nothing. Parameters are not part of the state: restore them alongside.
   */
  loadStateDict(stateDict: StateDict<number[] | ArrayLike<number> | T>): Operation<void> {
    return {
      method: 'loadStateDict',
      prepare: () => {
        this.ensureUsable('loadStateDict');
        return () => immediate(() => this.load(stateDict));
      },
    };
  }

  private load(stateDict: StateDict<number[] | ArrayLike<number> | T>): void {
    const storage = this.backend.storage;
    const plans = planStateLoad(
      this.algorithm,
      this.paramGroups.map((g) => g.params),
      this.places,
      stateDict,
      (value) => hostLength(value) ?? (storage.accepts(value) ? storage.size(value) : null),
    );
    // Build every new tensor first; only then replace anything.
    const created: T[] = [];
    const slotsByMember = new Map<Member<T>, Record<string, T>>();
    try {
      for (const plan of plans) {
        if (!plan.saved.initialized) continue;
        for (const member of this.groupMembers(plan.group)) {
          const slots: Record<string, T> = {};
          for (const spec of plan.slots) {
            const tensor = this.stateTensor(member, (p) => stateDict.state[p.name][spec.name]);
            created.push(tensor);
            slots[spec.name] = tensor;
          }
          slotsByMember.set(member, slots);
        }
      }
    } catch (error) {
      for (const t of created) storage.dispose(t);
      throw error;
    }
    for (const plan of plans) {
      const gi = plan.group;
      const target = this.paramGroups[gi] as Options;
      for (const key of Object.keys(target)) if (key !== 'params') delete target[key];
      Object.assign(target, cloneOptions(plan.options));
      this.counters[gi] = { ...plan.saved.counters };
      this.releaseState(gi);
      for (const member of this.groupMembers(gi)) {
        const slots = slotsByMember.get(member);
        if (slots) Object.assign(member.slots, slots);
      }
      this.initialized[gi] = plan.saved.initialized;
    }
    this.currentMode = stateDict.mode;
  }

  /** One state buffer of a member from saved values: host numbers, or (one parameter) a tensor of this backend. */
  private stateTensor(member: Member<T>, savedValues: (p: ParamPlace) => unknown): T {
    const storage = this.backend.storage;
    const values = member.params.map(savedValues);
    if (values.length === 1 && hostLength(values[0]) === null) return storage.clone(values[0] as T);
    const host = new Float64Array(member.size);
    member.params.forEach((p, i) => {
      check(
        hostLength(values[i]) !== null,
        'STATE_MISMATCH',
        () =>
          `${this.name}.loadStateDict: ${this.backend.name} keeps groups flat; pass state buffers as number arrays.`,
      );
      host.set(values[i] as ArrayLike<number>, p.offset);
    });
    return storage.fromHost(host, member.slots.param);
  }

  /**
   * The state with its buffers as tensors of this backend (copies owned by the caller, no read), for
   * adapters that save through their library's own format. Per-parameter layout only.
   */
  stateTensors(): Operation<StateDict<T>> {
    return {
      method: 'stateDict',
      prepare: () => {
        this.ensureUsable('stateDict');
        check(
          this.backend.capabilities.layout === 'per-parameter',
          'UNSUPPORTED',
          () => `${this.name}: state tensors are per parameter; this backend keeps groups flat.`,
        );
        const options = this.snapshotOptions();
        return () =>
          immediate(() => {
            const dict = this.describe(options);
            for (const member of this.members) {
              if (!this.initialized[member.group]) continue;
              const slots: Record<string, T> = {};
              for (const [slot, t] of Object.entries(member.slots))
                if (slot !== 'param') slots[slot] = this.backend.storage.clone(t);
              dict.state[member.params[0].name] = slots;
            }
            return dict as StateDict<T>;
          });
      },
    };
  }

  /**
   * Frees every tensor the engine created (never the user's). Calls made before it still take
   * effect; any later call throws `DISPOSED`. Returns a promise when asynchronous calls are pending.
   */
  dispose(): void | Promise<void> {
    if (this.disposed || this.disposing) return;
    this.scheduler.assertNotInCallback('dispose');
    this.disposing = true;
    if (this.scheduler.idle) {
      this.release();
      return;
    }
    return this.scheduler.later('dispose', () => () => immediate(() => this.release()));
  }

  private release(): void {
    for (let gi = 0; gi < this.paramGroups.length; gi++) this.releaseState(gi);
    for (const m of this.members) if (m.ownsParam) this.backend.storage.dispose(m.slots.param);
    this.disposed = true;
  }

  /**
   * Hands the parameters over to another optimizer object (a wrapper), which then owns them: every
   * later call here throws with `reason`. Only an optimizer that has taken no step can be handed over.
   */
  handOver(reason: string): Array<{ params: Record<string, T>; options: O }> {
    this.ensureUsable('handOver');
    check(
      this.initialized.every((i) => !i),
      'INVALID_PARAMS',
      () => `${this.name} has already taken steps; wrap a freshly constructed optimizer.`,
    );
    check(
      this.backend.capabilities.layout === 'per-parameter',
      'UNSUPPORTED',
      () => `${this.name}: only optimizers over the user's tensors can be handed over.`,
    );
    const groups = this.paramGroups.map((g, gi) => {
      const { params: _names, ...options } = g as ParamGroup<O> & Options;
      const params = Object.fromEntries(this.groupMembers(gi).map((m) => [m.params[0].name, m.slots.param]));
      return { params, options: options as O };
    });
    this.retiredBecause = reason;
    return groups;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals.

  private ensureUsable(method: string): void {
    check(this.retiredBecause === null, 'DISPOSED', () => `${this.name}.${method}(): ${this.retiredBecause}`);
    check(
      !this.disposed && !this.disposing,
      'DISPOSED',
      () => `${this.name}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
  }

  private groupMembers(gi: number): Member<T>[] {
    return this.members.filter((m) => m.group === gi);
  }

  /** Every group's options as they are now, validated, as plain copies. */
  private snapshotOptions(): Options[] {
    const options = this.liveOptions();
    this.validateOptions(options);
    return options;
  }

  private liveOptions(): Options[] {
    return this.paramGroups.map((g) => {
      const { params: _params, ...options } = g as ParamGroup<O> & Options;
      return cloneOptions(options);
    });
  }

  private validateOptions(options: readonly Options[]): void {
    options.forEach((o, gi) => {
      const where = this.paramGroups.length > 1 ? `${this.name} (param group ${gi})` : this.name;
      this.algorithm.validate(o, where);
    });
  }

  /** Copies of gradients the caller could still change, for a call that takes effect later. */
  private captureGrads(grads: Readonly<Record<string, T>>): {
    grads: Readonly<Record<string, T>>;
    release(): void;
  } {
    const { storage } = this.backend;
    if (!storage.capture || !isRecord(grads)) return { grads, release() {} };
    const copies: T[] = [];
    const captured: Record<string, T> = {};
    for (const [name, grad] of Object.entries(grads)) {
      const copy = storage.accepts(grad) ? storage.capture(grad) : grad;
      if (copy !== grad) copies.push(copy);
      captured[name] = copy;
    }
    return { grads: captured, release: () => copies.forEach((c) => storage.dispose(c)) };
  }

  /**
   * Checks a gradient record: known names, one per parameter, usable tensors of the right size,
   * finite values (on the host, or reported by the run on the device).
   */
  private *checkGrads(
    grads: Readonly<Record<string, T>>,
    method: string,
  ): Work<{ skip: boolean; deviceCheck: boolean }> {
    const where = `${this.name}.${method}`;
    const { storage, capabilities } = this.backend;
    const checked = checkGradientRecord(where, this.places, grads, {
      problem: (name, grad) =>
        storage.accepts(grad)
          ? (storage.describeGradient?.(this.members[this.places.get(name)!.member].slots.param, grad) ??
            null)
          : `it is not a tensor this backend (${this.backend.name}) accepts`,
      size: (grad) => storage.size(grad),
    });
    const answers = yield* waitAll(checked.map(([, grad]) => storage.allFinite(grad)));
    const bad = answers.indexOf(false);
    if (bad >= 0) {
      check(this.nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () =>
        nonFiniteMessage(where, `"${checked[bad][0]}"`),
      );
      return { skip: true, deviceCheck: false };
    }
    return { skip: false, deviceCheck: answers.includes(null) && capabilities.deviceFiniteCheck === true };
  }

  /** After a run reported non-finite device gradients: throws, or reports the skipped step. */
  private deviceNonFinite(method: string): false {
    check(this.nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () =>
      nonFiniteMessage(`${this.name}.${method}`, 'on the device (one of them)'),
    );
    return false;
  }

  /** Moves every initialized group's parameters to x or y. */
  private *moveAll(target: 'x' | 'y', options: readonly Options[], keep?: ReadonlySet<T>): Work<void> {
    const runs: GroupRun[] = [];
    for (let gi = 0; gi < this.paramGroups.length; gi++) {
      if (this.initialized[gi]) runs.push({ gi, run: this.algorithm.moveTo(options[gi] as O, target) });
    }
    yield* this.execute(runs, options, undefined, false, keep);
  }

  /**
   * Runs programs over groups (initializing their state first if needed), then commits every output,
   * or, when a run reports non-finite device gradients or throws, discards what the runs produced.
   * Returns false in the first case.
   */
  private *execute(
    runs: readonly GroupRun[],
    options: readonly Options[],
    grads: Readonly<Record<string, T>> | undefined,
    checkGradients: boolean,
    keep?: ReadonlySet<T>,
  ): Work<boolean> {
    const { storage, execution } = this.backend;
    const done: Array<{ gi: number; member: Member<T>; record: MemberRun<T>; outputs: readonly string[] }> =
      [];
    const fresh: number[] = [];
    let finite = true;
    try {
      for (const { gi, run } of runs) {
        if (!this.initialized[gi]) {
          this.initState(gi, options[gi]);
          fresh.push(gi);
        }
        const reads = grads !== undefined && run.program.inputs.includes('grad');
        const members = this.groupMembers(gi);
        const records = members.map((m) => memberRun(m, reads ? grads : undefined));
        const report = (yield* wait(
          execution.run({
            program: run.program,
            graph: graphOf(run.program),
            scalars: run.scalars,
            group: gi,
            members: records,
            checkGradients: reads && checkGradients,
          }),
        )) as RunReport | undefined;
        members.forEach((member, i) => {
          done.push({ gi, member, record: records[i], outputs: run.program.outputs });
        });
        if (report?.gradientsFinite === false) finite = false;
      }
    } catch (error) {
      this.discard(done, fresh);
      throw error;
    }
    if (!finite) {
      this.discard(done, fresh);
      return false;
    }
    const replaced = new Set<T>();
    for (const { member, record, outputs } of done) {
      for (const name of outputs) {
        const next = record.slots[name];
        const old = member.slots[name];
        if (next === old) continue;
        if (name === 'param' && !member.ownsParam) {
          throw new Error(
            `${this.backend.name}: a run replaced the user's parameter tensor instead of writing it in place`,
          );
        }
        member.slots[name] = next;
        replaced.add(old);
      }
    }
    const live = new Set<T>(this.members.flatMap((m) => Object.values(m.slots)));
    for (const old of replaced) if (!live.has(old) && !keep?.has(old)) storage.dispose(old);
    for (const gi of fresh) this.initialized[gi] = true;
    return true;
  }

  /** Releases what runs produced (never their inputs), and state created for them. */
  private discard(
    done: ReadonlyArray<{ member: Member<T>; record: MemberRun<T>; outputs: readonly string[] }>,
    fresh: readonly number[],
  ): void {
    const storage = this.backend.storage;
    const produced = new Set<T>();
    for (const { member, record, outputs } of done) {
      for (const name of outputs)
        if (record.slots[name] !== member.slots[name]) produced.add(record.slots[name]);
    }
    for (const t of produced) storage.dispose(t);
    for (const gi of fresh) this.releaseState(gi);
  }

  /** Creates a group's state: copies of the parameters, zeros, or constants, as the algorithm says. */
  private initState(gi: number, options: Options): void {
    const storage = this.backend.storage;
    const specs = this.algorithm.slots(options as O);
    for (const member of this.groupMembers(gi)) {
      const param = member.slots.param;
      for (const spec of specs) {
        member.slots[spec.name] =
          spec.init === 'clone'
            ? storage.clone(param)
            : spec.init === 'zeros' || spec.init.fill === 0
              ? storage.zerosLike(param)
              : storage.fromHost(new Float64Array(member.size).fill(spec.init.fill), param);
      }
    }
  }

  private releaseState(gi: number): void {
    const storage = this.backend.storage;
    for (const member of this.groupMembers(gi)) {
      for (const [slot, tensor] of Object.entries(member.slots))
        if (slot !== 'param') storage.dispose(tensor);
      member.slots = { param: member.slots.param };
    }
    this.initialized[gi] = false;
  }

  /** Backs up the parameters of initialized groups before moving them (by reference when runs never write in place). */
  private backupParams(): ParamBackup<T> {
    const { storage, capabilities } = this.backend;
    const saved = this.members
      .filter((m) => this.initialized[m.group])
      .map((m) => {
        const byReference = capabilities.immutable === true && m.ownsParam;
        return { member: m, copy: byReference ? m.slots.param : storage.clone(m.slots.param), byReference };
      });
    let settled = false;
    return {
      keep: new Set(saved.filter((s) => s.byReference).map((s) => s.copy)),
      restore: () => {
        if (settled) return;
        settled = true;
        for (const { member, copy, byReference } of saved) {
          const current = member.slots.param;
          if (!member.ownsParam) {
            storage.assign(current, copy);
            storage.dispose(copy);
          } else if (current !== copy) {
            storage.dispose(current);
            member.slots.param = copy;
          } else if (!byReference) storage.dispose(copy);
        }
      },
      release: () => {
        if (settled) return;
        settled = true;
        for (const { member, copy } of saved) if (member.slots.param !== copy) storage.dispose(copy);
      },
    };
  }
}

function memberRun<T>(member: Member<T>, grads: Readonly<Record<string, T>> | undefined): MemberRun<T> {
  const slots = { ...member.slots };
  const sizes = memberSizes(member);
  if (!grads) return { slots, sizes };
  if (member.params.length === 1) {
    slots.grad = grads[member.params[0].name];
    return { slots, sizes };
  }
  return { slots, sizes, gradParts: member.params.map((p) => grads[p.name]) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value);
}

/** Splits what a closure returned into `{ loss, grads }`. */
function unpackClosureResult<T>(
  result: ClosureResult<T>,
  where: string,
): { loss?: number; grads: Readonly<Record<string, T>> } {
  if (isRecord(result) && 'grads' in result) {
    const keys = Object.keys(result);
    const grads = (result as { grads: unknown }).grads;
    if (keys.every((k) => k === 'grads' || k === 'loss') && isRecord(grads)) {
      const loss = (result as { loss?: unknown }).loss;
      check(
        loss === undefined || typeof loss === 'number',
        'INVALID_OPTION',
        () =>
          `${where}: the closure returned a loss that is not a number (${typeof loss}). Return { loss: number, grads }.`,
      );
      return result as { loss?: number; grads: Readonly<Record<string, T>> };
    }
  }
  return { grads: result as Readonly<Record<string, T>> };
}

/** `snapshot` with the changes made between `before` and `after` applied on top. */
function overlayChanges(
  snapshot: readonly Options[],
  before: readonly Options[],
  after: readonly Options[],
): Options[] {
  return snapshot.map((s, gi) => {
    const changed: Options = {};
    const keys = new Set([...Object.keys(before[gi]), ...Object.keys(after[gi])]);
    for (const key of keys) if (!sameValue(before[gi][key], after[gi][key])) changed[key] = after[gi][key];
    return { ...s, ...changed };
  });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  return Object.is(a, b);
}
