import type { Algorithm, AlgorithmKind, Counters, ProgramRun, StepContext, StepPlan } from '../algorithm.js';
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
   * `'skip'` skips the whole step (no buffer or counter changes) and the step reports false;
   * `'unchecked'` does not look: no pass over the gradients on the host and no read-back from a GPU
   * per step, but a non-finite gradient then corrupts the optimizer's state.
   */
  nonFiniteGrads?: 'throw' | 'skip' | 'unchecked';
  /**
   * What a gradient record that leaves a parameter out means: `'error'` (default: a typo must not
   * silently freeze a layer) or `'freeze'` (the parameter has no gradient this step and is left
   * unchanged, as an explicit `null` always means).
   */
  omittedGrads?: 'error' | 'freeze';
}

/**
 * A constructor's options argument, checked to be a plain object (`undefined` reads as `{}`): a
 * number or string where options belong (`new SGD(params, 0.1)`) is an error, not ignored.
 */
export function optionsObject(options: unknown, where: string): Record<string, unknown> {
  const given = options ?? {};
  check(
    typeof given === 'object' && !Array.isArray(given),
    'INVALID_OPTION',
    () =>
      `${where}: options must be an object of named options, e.g. { lr: 0.01 }, got ${Array.isArray(given) ? 'an array' : JSON.stringify(given)}.`,
  );
  return given as Record<string, unknown>;
}

/**
 * Splits an optimizer's options into the engine's ({@link EngineOptions}, checked, with defaults)
 * and the rest (the algorithm's, and any of an adapter's own). `INVALID_OPTION` for options that
 * are not an object or an engine option with a bad value. For adapters that take options before
 * they create their engine.
 */
export function splitEngineOptions(
  options: unknown,
  where: string,
): { engine: Required<EngineOptions>; rest: Record<string, unknown> } {
  const {
    nonFiniteGrads = 'throw',
    omittedGrads = 'error',
    ...rest
  } = optionsObject(options, where) as Options;
  check(
    nonFiniteGrads === 'throw' || nonFiniteGrads === 'skip' || nonFiniteGrads === 'unchecked',
    'INVALID_OPTION',
    () =>
      `${where}: option "nonFiniteGrads" must be 'throw', 'skip' or 'unchecked', got ${JSON.stringify(nonFiniteGrads)}.`,
  );
  check(
    omittedGrads === 'error' || omittedGrads === 'freeze',
    'INVALID_OPTION',
    () => `${where}: option "omittedGrads" must be 'error' or 'freeze', got ${JSON.stringify(omittedGrads)}.`,
  );
  return { engine: { nonFiniteGrads, omittedGrads }, rest };
}

/** What `step` may be given besides the gradients. */
export interface StepExtras {
  /** The loss at y, for algorithms that need it (ScheduleFree+'s Polyak step size). */
  readonly loss?: number;
  /** The adapter's name for the call, used in messages (e.g. tfjs's `applyGradients`; default `step`). */
  readonly method?: string;
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
  /** Call time: checks and captures; `deferred` when the work may take effect after the call returns. */
  prepare(deferred: boolean): () => Work<R>;
}

/**
 * `op` followed, inside the same call, by more work on its result: e.g. reading tensors back to the
 * host before a later call (or `dispose()`) can touch them.
 */
export function followedBy<A, B>(op: Operation<A>, next: (result: A) => Work<B>): Operation<B> {
  return {
    method: op.method,
    prepare(deferred) {
      const work = op.prepare(deferred);
      return function* () {
        return yield* next(yield* work());
      };
    },
  };
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
  /** The parameters this run steps (default: every one with a gradient); the others keep their values. */
  readonly active?: ReadonlySet<string>;
}

/** A backup of parameters taken before moving them, to put them back exactly. */
interface ParamBackup<T> {
  /** Tensors the moves must not release (the backups themselves, on immutable backends). */
  readonly keep: ReadonlySet<T>;
  /** Puts parameters back: all of them, or those of the members `only` selects (the rest stay backed up). */
  restore(only?: (member: Member<T>) => boolean): void;
  /** Drops what is still backed up, keeping the parameters as they are. */
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
  /** Per-parameter counters of algorithms that keep some (`Algorithm.memberCounters`), by parameter name. */
  private readonly paramValues = new Map<string, Record<string, number>>();
  private counters: Counters[];
  private initialized: boolean[];
  private currentMode: Mode = 'eval';
  private readonly nonFiniteGrads: 'throw' | 'skip' | 'unchecked';
  private readonly omittedGrads: 'error' | 'freeze';
  /** The constructor's algorithm options over the defaults: what a group added later starts from. */
  private readonly baseOptions: Options;
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
    const { engine: engineOptions, rest: algorithmOptions } = splitEngineOptions(init.options, where);
    this.nonFiniteGrads = engineOptions.nonFiniteGrads;
    this.omittedGrads = engineOptions.omittedGrads;
    check(
      algorithm.reduction === undefined || backend.capabilities.reductions === true,
      'UNSUPPORTED',
      () =>
        `${where}: this algorithm reduces over all parameters each step, which the ${backend.name} backend does not implement (capabilities.reductions).`,
    );
    this.baseOptions = cloneOptions({ ...algorithm.defaults, ...algorithmOptions });
    const groups = normalizeGroups<T, O>(where, init.params);
    const checked = this.checkNewGroups(groups, where);
    this.paramGroups = [];
    this.counters = [];
    this.initialized = [];
    checked.forEach((g) => this.appendGroup(g.tensors, g.options));
  }

  /** Checks groups to be added (options, names, tensors); returns their merged options. */
  private checkNewGroups(
    groups: ReadonlyArray<{ params: Readonly<Record<string, T>>; overrides: Partial<O> }>,
    where: string,
  ): Array<{ tensors: Readonly<Record<string, T>>; options: O }> {
    const { storage } = this.backend;
    const seen = new Map<T, string>(this.members.map((m) => [m.slots.param, m.params[0].name]));
    const names = new Set<string>(this.places.keys());
    const first = this.paramGroups?.length ?? 0;
    return groups.map(({ params: tensors, overrides }, i) => {
      const gi = first + i;
      const groupWhere = first + groups.length > 1 ? `${where} (param group ${gi})` : where;
      const options = cloneOptions({ ...this.baseOptions, ...overrides }) as O;
      this.algorithm.validate(options as Options, groupWhere);
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
          () => `${where}: parameter "${name}" is not a tensor this backend (${this.backend.name}) accepts.`,
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
      return { tensors, options };
    });
  }

  private appendGroup(tensors: Readonly<Record<string, T>>, options: O): void {
    const gi = this.paramGroups.length;
    this.paramGroups.push(
      Object.assign(options, { params: Object.freeze(Object.keys(tensors)) }) as ParamGroup<O>,
    );
    this.addMembers(gi, tensors);
    this.counters.push(this.algorithm.initialCounters());
    this.initialized.push(false);
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
      this.resetMemberCounters(this.members.at(-1)!);
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
      this.resetMemberCounters(this.members.at(-1)!);
    }
  }

  /** A member's per-parameter counters back to their initial values (or to `from(name)`). */
  private resetMemberCounters(
    member: Member<T>,
    from: (name: string) => Counters = () => this.algorithm.initialCounters(),
  ): void {
    const names = this.algorithm.memberCounters ?? [];
    if (names.length === 0) return;
    for (const p of member.params) {
      const values = from(p.name);
      this.paramValues.set(p.name, Object.fromEntries(names.map((n) => [n, values[n]])));
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
    // The programs' structure does not depend on the loss or the reductions' values.
    const options = this.snapshotOptions();
    const sums = this.algorithm.reduction
      ? Object.fromEntries(
          this.algorithm.reduction(options as O[], this.counters).program.outputs.map((t) => [t, 0]),
        )
      : undefined;
    return this.planSteps(options, { loss: 0, sums });
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

  /**
   * Queues an operation after every earlier asynchronous call; its call-time part runs now. On a
   * {@link Capabilities.synchronous} backend a call that starts at once also ends before it returns:
   * it is not deferred, so it captures nothing.
   */
  later<R>(op: Operation<R>): Promise<R> {
    const synchronous = this.backend.capabilities.synchronous === true;
    return this.scheduler.later(op.method, (startsNow) => op.prepare(!(startsNow && synchronous)));
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
  step(grads: Readonly<Record<string, T>>, extras: StepExtras = {}): Operation<boolean> {
    const method = extras?.method ?? 'step';
    return {
      method,
      prepare: (deferred) => {
        this.ensureUsable(method);
        check(
          this.algorithm.kind !== 'closure',
          'MISSING_GRAD',
          () => `${this.name}.${method}() needs a closure returning the gradients: step(() => grads).`,
        );
        const options = this.snapshotOptions();
        const loss = extras?.loss;
        this.checkLoss(loss, method);
        const captured = deferred ? this.captureGrads(grads) : { grads, release() {} };
        const engine = this;
        return function* () {
          try {
            return yield* engine.stepWork(captured.grads, options, loss, method);
          } finally {
            captured.release();
          }
        };
      },
    };
  }

  private *stepWork(
    grads: Readonly<Record<string, T>>,
    options: Options[],
    loss: number | undefined,
    method: string,
  ): Work<boolean> {
    if (MOVES.has(this.algorithm.kind)) {
      check(
        this.currentMode === 'train',
        'WRONG_MODE',
        () =>
          `${this.name}.${method}() was called in eval mode, where the parameters hold x (the average). Call optimizer.train() before training steps, and optimizer.eval() before evaluating or saving.${this.hints.wrongMode ? ` ${this.hints.wrongMode}` : ''}`,
      );
    }
    return yield* this.applyStep(grads, options, loss, method);
  }

  /**
   * A step once the gradients are known: check them, create state the step needs, run the
   * algorithm's reduction if it has one, plan every group, run, commit. With `moves` (the closure
   * forms), frozen parameters are put back from the backup and train/eval classes end at x.
   */
  private *applyStep(
    grads: Readonly<Record<string, T>>,
    options: readonly Options[],
    loss: number | undefined,
    method: string,
    moves?: ParamBackup<T>,
  ): Work<boolean> {
    const verdict = yield* this.checkGrads(grads, method);
    if (verdict.skip) return false;
    const frozen = verdict.frozen;
    const composeToX = moves !== undefined && MOVES.has(this.algorithm.kind);
    if (composeToX && frozen.size > 0) this.assertCanFreeze(frozen, method);
    const fresh: number[] = [];
    let plans: StepPlan[];
    let memberUpdates: Map<string, Record<string, number>>;
    let finite: boolean;
    try {
      for (let gi = 0; gi < this.paramGroups.length; gi++) {
        if (this.initialized[gi]) continue;
        this.initState(gi, options[gi]);
        fresh.push(gi);
      }
      const context: { loss?: number; sums?: Record<string, number> } = { loss };
      if (this.algorithm.reduction) context.sums = yield* this.reduce(options, grads, frozen);
      const planned = this.planGroups(options, context, frozen);
      plans = planned.plans;
      memberUpdates = planned.memberUpdates;
      const runs = planned.runs.map((r) => ({
        ...r,
        run: composeToX ? composeRuns(r.run, this.algorithm.moveTo(options[r.gi] as O, 'x')) : r.run,
      }));
      // Checked as they run: a closure step in eval mode also moves back to x (1/β there).
      this.checkPlanned(runs, planned.plans, options, method);
      finite = yield* this.execute(runs, grads, verdict.deviceCheck, frozen, moves?.keep);
    } catch (error) {
      for (const gi of fresh) this.releaseState(gi);
      throw error;
    }
    if (!finite) {
      for (const gi of fresh) this.releaseState(gi);
      return this.deviceNonFinite(method);
    }
    for (const gi of fresh) this.initialized[gi] = true;
    // A train/eval class in its closure form ends at x: frozen parameters go back exactly. Closure
    // classes keep the reference's quirk: a frozen parameter that has state stays extrapolated (at y).
    if (composeToX && frozen.size > 0) moves!.restore((m) => m.params.every((p) => frozen.has(p.name)));
    this.counters = plans.map((p) => p.counters);
    for (const [name, values] of memberUpdates) this.paramValues.set(name, values);
    return true;
  }

  /**
   * The runs of a step: one per group, or, for algorithms with per-parameter counters, one per
   * distinct set of those counters among the members that have a gradient (they advance; frozen
   * members keep theirs). Returns each group's new counters and the members' new per-parameter ones.
   */
  private planGroups(
    options: readonly Options[],
    context: StepContext,
    frozen: ReadonlySet<string>,
  ): { plans: StepPlan[]; runs: GroupRun[]; memberUpdates: Map<string, Record<string, number>> } {
    const names = this.algorithm.memberCounters ?? [];
    const memberUpdates = new Map<string, Record<string, number>>();
    if (names.length === 0 || this.algorithm.planSteps) {
      const plans = this.planSteps(options, context);
      return { plans, runs: plans.map((run, gi) => ({ gi, run })), memberUpdates };
    }
    const plans: StepPlan[] = [];
    const runs: GroupRun[] = [];
    options.forEach((o, gi) => {
      // Parameters with a gradient, grouped by their counters; each set is one run (with the flat
      // layout, the others of a buffer are masked as frozen for it).
      const partitions = new Map<string, string[]>();
      for (const name of this.paramGroups[gi].params) {
        if (frozen.has(name)) continue;
        const key = JSON.stringify(this.paramValues.get(name));
        partitions.set(key, [...(partitions.get(key) ?? []), name]);
      }
      let plan = this.algorithm.planStep(o as O, this.counters[gi]);
      for (const active of partitions.values()) {
        plan = this.algorithm.planStep(o as O, { ...this.counters[gi], ...this.paramValues.get(active[0]) });
        runs.push({ gi, run: plan, active: new Set(active) });
        const next = Object.fromEntries(names.map((n) => [n, plan.counters[n]]));
        for (const name of active) memberUpdates.set(name, next);
      }
      plans.push(plan);
    });
    return { plans, runs, memberUpdates };
  }

  /**
   * Refuses options whose per-step values overflow: every scalar a run takes must be a finite
   * float32 (|v| < 3.4e38, the range every backend computes in), and every counter finite. Such
   * options pass their own range checks (lr 1e200, β1 1e-300) but would turn the parameters into
   * NaN or ±Infinity.
   */
  private checkPlanned(
    runs: readonly GroupRun[],
    plans: readonly StepPlan[],
    options: readonly Options[],
    method: string,
  ): void {
    const describeGroup = (gi: number) => {
      const o = options[gi];
      const shown = ['lr', 'weightDecay', 'betas', 'momentum', 'eps', 'warmupSteps']
        .filter((k) => k in o)
        .map((k) => `${k} ${JSON.stringify(o[k])}`)
        .join(', ');
      return `${this.paramGroups.length > 1 ? `param group ${gi}: ` : ''}${shown}`;
    };
    for (const { gi, run } of runs) {
      for (const [name, value] of Object.entries(run.scalars)) {
        check(
          Number.isFinite(Math.fround(value)),
          'INVALID_OPTION',
          () =>
            `${this.name}.${method}: with these options (${describeGroup(gi)}) the step's per-step value "${name}" is ${value}, beyond what float32 arithmetic can hold. Use smaller learning rates or decays, or interpolation weights (β) not so close to 0; nothing was changed.`,
        );
      }
    }
    plans.forEach((plan, gi) => {
      for (const [name, value] of Object.entries(plan.counters)) {
        check(
          Number.isFinite(value),
          'INVALID_OPTION',
          () =>
            `${this.name}.${method}: with these options (${describeGroup(gi)}) the counter "${name}" would become ${value}. Use a smaller learning rate; nothing was changed.`,
        );
      }
    });
  }

  /** Every group's step plan for this context (groups planned together when the algorithm couples them). */
  private planSteps(options: readonly Options[], context: StepContext): StepPlan[] {
    const { algorithm } = this;
    if (algorithm.planSteps) return algorithm.planSteps(options as readonly O[], this.counters, context);
    return options.map((o, gi) => algorithm.planStep(o as O, this.counters[gi]));
  }

  /** Runs the algorithm's reduction over every parameter with a gradient; sums in float64. */
  private *reduce(
    options: readonly Options[],
    grads: Readonly<Record<string, T>>,
    frozen: ReadonlySet<string>,
  ): Work<Record<string, number>> {
    const { program, scalars } = this.algorithm.reduction!(options as readonly O[], this.counters);
    const reduce = this.backend.execution.reduce!;
    // One group after another, as runs are: some runtimes (ONNX Runtime's WebGPU provider) cannot
    // run two sessions at once.
    const results: Array<readonly number[]> = [];
    for (let gi = 0; gi < this.paramGroups.length; gi++) {
      const members = this.groupMembers(gi)
        .map((m) => memberRun(m, m.slots, grads, frozen))
        .filter((r): r is MemberRun<T> => r !== null);
      if (members.length === 0) continue;
      results.push(yield* wait(reduce({ program, graph: graphOf(program), scalars, group: gi, members })));
    }
    const sums: Record<string, number> = {};
    program.outputs.forEach((term, j) => {
      sums[term] = results.reduce((total, r) => total + r[j], 0);
    });
    return sums;
  }

  /** A step that moves parameters cannot leave part of a flat member behind. */
  private assertCanFreeze(frozen: ReadonlySet<string>, method: string): void {
    for (const m of this.members) {
      const some = m.params.some((p) => frozen.has(p.name));
      check(
        !some || m.params.every((p) => frozen.has(p.name)),
        'UNSUPPORTED',
        () =>
          `${this.name}.${method}(closure): parameter "${m.params.find((p) => frozen.has(p.name))!.name}" has no gradient, but the ${this.backend.name} backend keeps it in one buffer with parameters that have one; a closure step cannot leave it at x. Give it a gradient (zeros), or put it in its own parameter group.`,
      );
    }
  }

  /** Refuses a missing or non-finite loss where the algorithm needs one, and a loss that is not a number. */
  private checkLoss(loss: unknown, method: string): void {
    const where = `${this.name}.${method}`;
    if (this.algorithm.needsLoss) {
      check(
        typeof loss === 'number' && Number.isFinite(loss),
        'INVALID_LOSS',
        () =>
          `${where}: ${this.algorithm.name} needs the loss at y every step (its Polyak step size); pass it as step(grads, { loss }) or return { loss, grads } from the closure. Got ${loss === undefined ? 'none' : String(loss)}.`,
      );
    } else {
      check(
        loss === undefined || typeof loss === 'number',
        'INVALID_LOSS',
        () => `${where}: the loss must be a number, got ${typeof loss}.`,
      );
    }
  }

  /**
   * Adds a parameter group (PyTorch's `add_param_group`), e.g. to unfreeze layers while training:
   * options not given come from the optimizer's constructor options and the defaults. Its counters
   * start at zero; its parameters hold their values in either mode (x = y = z until its first step).
   */
  addParamGroup(group: { params: Readonly<Record<string, T>> } & Partial<O>): Operation<void> {
    return {
      method: 'addParamGroup',
      prepare: () => {
        this.ensureUsable('addParamGroup');
        const where = `${this.name}.addParamGroup`;
        check(
          group !== null && typeof group === 'object' && !Array.isArray(group),
          'INVALID_PARAMS',
          () => `${where}: pass a group { params: { name: tensor, ... }, ...options }.`,
        );
        // Checked now (a bad group is refused at once) and again when it takes effect.
        const normalized = normalizeGroups<T, O>(where, [group]);
        this.checkNewGroups(normalized, where);
        return () =>
          immediate(() => {
            const [checked] = this.checkNewGroups(normalized, where);
            this.appendGroup(checked.tensors, checked.options);
          });
      },
    };
  }

  /**
   * One step whose gradients come from `closure`, called while the parameters hold y: closure
   * classes (parameters hold x between steps), and train/eval classes in either mode (in eval mode
   * the parameters move to y for the closure and end at x, in one fused pass). Returns the closure's
   * loss, if any. If the closure throws or returns bad gradients, or sets invalid options, the
   * parameters are restored exactly and nothing else changes. `method` names the call in messages.
   */
  closureStep(
    closure: () => ClosureResult<T> | PromiseLike<ClosureResult<T>>,
    method = 'step',
  ): Operation<number | undefined> {
    return {
      method,
      prepare: () => {
        this.ensureUsable(method);
        check(
          typeof closure === 'function',
          'MISSING_GRAD',
          () =>
            `${this.name}.${method}(closure) needs a function returning the gradients, got ${typeof closure}.`,
        );
        const options = this.snapshotOptions();
        const engine = this;
        return () => engine.closureWork(closure, options, method);
      },
    };
  }

  private *closureWork(
    closure: () => ClosureResult<T> | PromiseLike<ClosureResult<T>>,
    options: Options[],
    method: string,
  ): Work<number | undefined> {
    const kind = this.algorithm.kind;
    const moves = kind === 'closure' || (MOVES.has(kind) && this.currentMode === 'eval');
    const backup = moves ? this.backupParams() : null;
    try {
      if (moves) yield* this.moveAll('y', options, backup!.keep);
      const before = this.liveOptions();
      const result = yield* wait(this.scheduler.guard(`${method}(closure)`, closure));
      const { loss, grads } = unpackClosureResult(result, `${this.name}.${method}(closure)`);
      this.checkLoss(loss, method);
      // Options the closure changed take effect now, checked first.
      const effective = overlayChanges(options, before, this.liveOptions());
      this.validateOptions(effective);
      const stepped = yield* this.applyStep(grads, effective, loss, method, backup ?? undefined);
      if (stepped) backup?.release();
      else backup?.restore();
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
        ...(this.algorithm.memberCounters?.length ? { paramCounters: this.paramCountersOf(gi) } : {}),
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
        return () => this.loadWork(stateDict);
      },
    };
  }

  private *loadWork(stateDict: StateDict<number[] | ArrayLike<number> | T>): Work<void> {
    const storage = this.backend.storage;
    const plans = planStateLoad(
      this.algorithm,
      this.paramGroups.map((g) => g.params),
      this.places,
      stateDict,
      (value) => hostLength(value) ?? (storage.accepts(value) ? storage.size(value) : null),
    );
    // Host buffers were checked value by value; buffers that are tensors are checked here.
    const tensors: Array<{ path: string; tensor: T }> = [];
    for (const plan of plans) {
      if (!plan.saved.initialized) continue;
      for (const name of plan.saved.params) {
        for (const spec of plan.slots) {
          const value = stateDict.state[name][spec.name];
          if (hostLength(value) === null)
            tensors.push({ path: `state.${name}.${spec.name}`, tensor: value as T });
        }
      }
    }
    const finite = yield* waitAll(tensors.map((t) => storage.allFinite(t.tensor)));
    const bad = finite.indexOf(false);
    check(
      bad < 0,
      'STATE_MISMATCH',
      () =>
        `${this.name}.loadStateDict: the state is damaged: ${tensors[bad].path} contains NaN or Infinity. Nothing was loaded; load an intact checkpoint.`,
    );
    this.load(stateDict, plans);
  }

  private load(
    stateDict: StateDict<number[] | ArrayLike<number> | T>,
    plans: ReturnType<typeof planStateLoad>,
  ): void {
    const storage = this.backend.storage;
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
        this.resetMemberCounters(member, (name) => ({
          ...plan.saved.counters,
          ...plan.saved.paramCounters?.[name],
        }));
      }
      this.initialized[gi] = plan.saved.initialized;
    }
    this.currentMode = stateDict.mode;
  }

  /** A group's per-parameter counters by parameter name. */
  private paramCountersOf(gi: number): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const m of this.groupMembers(gi))
      for (const p of m.params) out[p.name] = { ...this.paramValues.get(p.name) };
    return out;
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
  ): Work<{ skip: boolean; deviceCheck: boolean; frozen: Set<string> }> {
    const where = `${this.name}.${method}`;
    const { storage, capabilities } = this.backend;
    const frozen = new Set<string>();
    const checked = checkGradientRecord(where, this.places, grads, {
      frozen: (name) => frozen.add(name),
      omitted: this.omittedGrads,
      problem: (name, grad) =>
        storage.accepts(grad)
          ? (storage.describeGradient?.(this.members[this.places.get(name)!.member].slots.param, grad) ??
            null)
          : `it is not a tensor this backend (${this.backend.name}) accepts`,
      size: (grad) => storage.size(grad),
    });
    if (this.nonFiniteGrads === 'unchecked') return { skip: false, deviceCheck: false, frozen };
    const answers = yield* waitAll(checked.map(([, grad]) => storage.allFinite(grad)));
    const bad = answers.indexOf(false);
    if (bad >= 0) {
      check(this.nonFiniteGrads === 'skip', 'NON_FINITE_GRAD', () =>
        nonFiniteMessage(where, `"${checked[bad][0]}"`),
      );
      return { skip: true, deviceCheck: false, frozen };
    }
    return {
      skip: false,
      deviceCheck: answers.includes(null) && capabilities.deviceFiniteCheck === true,
      frozen,
    };
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
    this.checkPlanned(runs, [], options, target === 'x' ? 'eval' : 'train');
    yield* this.execute(runs, undefined, false, undefined, keep);
  }

  /**
   * Runs programs over groups (whose state exists), then commits every output, or, when a run reports
   * non-finite device gradients or throws, discards what the runs produced. Returns false in the first
   * case. Members whose parameters all have no gradient (`frozen`) are left out of runs that read one.
   */
  private *execute(
    runs: readonly GroupRun[],
    grads: Readonly<Record<string, T>> | undefined,
    checkGradients: boolean,
    frozen?: ReadonlySet<string>,
    keep?: ReadonlySet<T>,
  ): Work<boolean> {
    const { storage, execution } = this.backend;
    // A member can take part in several runs of one step (per-parameter counters over a flat
    // buffer): each run starts from the previous one's outputs, and only the last is committed.
    const done = new Map<Member<T>, { record: MemberRun<T>; outputs: Set<string> }>();
    const intermediate = new Set<T>();
    let finite = true;
    try {
      for (const { gi, run, active } of runs) {
        const reads = grads !== undefined && run.program.inputs.includes('grad');
        const members: Member<T>[] = [];
        const records: MemberRun<T>[] = [];
        const skipped = active
          ? new Set([...this.paramGroups[gi].params].filter((n) => !active.has(n)))
          : undefined;
        const off = skipped && frozen ? new Set([...frozen, ...skipped]) : (skipped ?? frozen);
        for (const m of this.groupMembers(gi)) {
          const base = done.get(m)?.record.slots ?? m.slots;
          const record = reads ? memberRun(m, base, grads, off) : memberRun(m, base);
          if (!record) continue;
          members.push(m);
          records.push(record);
        }
        if (records.length === 0) continue;
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
          const previous = done.get(member);
          if (previous) {
            // Outputs of the earlier run that this one replaced are no longer needed.
            for (const name of previous.outputs) {
              const t = previous.record.slots[name];
              if (t !== records[i].slots[name] && t !== member.slots[name]) intermediate.add(t);
            }
          }
          const outputs = new Set([...(previous?.outputs ?? []), ...run.program.outputs]);
          done.set(member, { record: records[i], outputs });
        });
        if (report?.gradientsFinite === false) finite = false;
      }
    } catch (error) {
      this.discard(done, intermediate);
      throw error;
    }
    if (!finite) {
      this.discard(done, intermediate);
      return false;
    }
    for (const t of intermediate) storage.dispose(t);
    const replaced = new Set<T>();
    for (const [member, { record, outputs }] of done) {
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
    if (replaced.size > 0) {
      // Runs that write in place replace nothing: no need to look for tensors still in use.
      const live = new Set<T>(this.members.flatMap((m) => Object.values(m.slots)));
      for (const old of replaced) if (!live.has(old) && !keep?.has(old)) storage.dispose(old);
    }
    return true;
  }

  /** Releases what runs produced (never their inputs). */
  private discard(
    done: ReadonlyMap<Member<T>, { record: MemberRun<T>; outputs: ReadonlySet<string> }>,
    intermediate: ReadonlySet<T>,
  ): void {
    const storage = this.backend.storage;
    const produced = new Set<T>(intermediate);
    for (const [member, { record, outputs }] of done) {
      for (const name of outputs)
        if (record.slots[name] !== member.slots[name]) produced.add(record.slots[name]);
    }
    for (const t of produced) storage.dispose(t);
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
    let pending = saved;
    return {
      keep: new Set(saved.filter((s) => s.byReference).map((s) => s.copy)),
      restore: (only) => {
        const chosen = only ? pending.filter((s) => only(s.member)) : pending;
        pending = only ? pending.filter((s) => !only(s.member)) : [];
        for (const { member, copy, byReference } of chosen) {
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
        for (const { member, copy } of pending) if (member.slots.param !== copy) storage.dispose(copy);
        pending = [];
      },
    };
  }
}

/**
 * A member as a run sees it (a copy of its slots), with its gradients; null when every one of its
 * parameters is frozen this step (no gradient).
 */
function memberRun<T>(
  member: Member<T>,
  base: Readonly<Record<string, T>>,
  grads?: Readonly<Record<string, T>>,
  frozen?: ReadonlySet<string>,
): MemberRun<T> | null {
  const slots = { ...base };
  const sizes = memberSizes(member);
  if (!grads) return { slots, sizes };
  const flags = member.params.map((p) => frozen?.has(p.name) === true);
  if (flags.every(Boolean)) return null;
  if (member.params.length === 1) {
    slots.grad = grads[member.params[0].name];
    return { slots, sizes };
  }
  const gradParts = member.params.map((p) => grads[p.name] ?? null) as readonly T[];
  return flags.some(Boolean) ? { slots, sizes, gradParts, frozen: flags } : { slots, sizes, gradParts };
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
    if (keys.every((k) => k === 'grads' || k === 'loss')) {
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
