import type { Algorithm, Counters, ProgramRun, SlotSpec } from '../algorithm.js';
import { check } from '../errors.js';
import { checkGradRecord, normalizeGroups, type ParamsInput } from '../inputs.js';
import { type ElementwiseProgram, runEager } from '../program.js';
import { cloneOptions, type Mode, planStateLoad, STATE_FORMAT, type StateDict } from '../state-dict.js';
import type { TensorOps } from '../tensor-ops.js';
import type { Backend } from './backend.js';

/** Options of the optimizer object itself (not of the algorithm). */
export interface EngineOptions {
  /**
   * What a NaN or ±Infinity in a gradient does: `'throw'` (default) raises `NON_FINITE_GRAD`;
   * `'skip'` skips the whole step (no buffer or counter changes) and `step` returns false.
   */
  nonFiniteGrads?: 'throw' | 'skip';
}

/** A parameter group as exposed to users: its options (mutable between steps) and parameter names. */
export type ParamGroup<O> = O & { readonly params: readonly string[] };

interface ParamEntry<T> {
  readonly name: string;
  readonly group: number;
  readonly size: number;
  /** `param` plus the algorithm's state slots once initialized. */
  slots: Record<string, T>;
}

/**
 * The shared machinery of every optimizer object: parameter groups, per-parameter state buffers,
 * per-group counters, validation, state dicts and disposal. Algorithms supply the math; backends the
 * tensors. Subclasses add the stepping API ({@link ScheduleFreeOptimizer}, {@link ScheduleFreeClosureOptimizer}).
 */
export abstract class OptimizerEngine<T, O extends object> {
  /** Parameter groups; change `lr` (or other options) here between steps. */
  readonly paramGroups: ParamGroup<O>[];
  protected readonly ops: TensorOps<T, number>;
  protected readonly entries: ParamEntry<T>[] = [];
  protected readonly byName = new Map<string, ParamEntry<T>>();
  protected counters: Counters[];
  protected initialized: boolean[];
  protected currentMode: Mode = 'eval';
  protected readonly nonFiniteGrads: 'throw' | 'skip';
  private disposed = false;
  private retiredBecause: string | null = null;

  constructor(
    readonly algorithm: Algorithm<O>,
    protected readonly backend: Backend<T>,
    params: ParamsInput<T, O>,
    options: Partial<O> & EngineOptions = {},
  ) {
    this.ops = backend.ops;
    const where = algorithm.name;
    check(
      options !== null && typeof options === 'object' && !Array.isArray(options),
      'INVALID_OPTION',
      () => `${where}: options must be an object such as { lr: 0.01 }.`,
    );
    const { nonFiniteGrads = 'throw', ...algoOptions } = options as Record<string, unknown>;
    check(
      nonFiniteGrads === 'throw' || nonFiniteGrads === 'skip',
      'INVALID_OPTION',
      () =>
        `${where}: option "nonFiniteGrads" must be 'throw' or 'skip', got ${JSON.stringify(nonFiniteGrads)}.`,
    );
    this.nonFiniteGrads = nonFiniteGrads;
    const groups = normalizeGroups<T, O>(where, params);
    this.paramGroups = groups.map(({ params: tensors, overrides }, gi) => {
      const groupWhere = groups.length > 1 ? `${where} (param group ${gi})` : where;
      const merged = cloneOptions({ ...algorithm.defaults, ...algoOptions, ...overrides }) as O;
      algorithm.validate(merged as Record<string, unknown>, groupWhere);
      const names = Object.keys(tensors);
      for (const name of names) {
        check(
          !this.byName.has(name),
          'INVALID_PARAMS',
          () => `${where}: parameter "${name}" appears in more than one group.`,
        );
        const tensor = tensors[name];
        check(
          backend.accepts ? backend.accepts(tensor) : tensor != null,
          'INVALID_PARAMS',
          () => `${where}: parameter "${name}" is not a tensor this backend (${this.ops.name}) accepts.`,
        );
        const entry: ParamEntry<T> = {
          name,
          group: gi,
          size: this.ops.size(tensor),
          slots: { param: tensor },
        };
        this.entries.push(entry);
        this.byName.set(name, entry);
      }
      return Object.assign(merged, { params: Object.freeze(names) }) as ParamGroup<O>;
    });
    this.counters = this.paramGroups.map(() => algorithm.initialCounters());
    this.initialized = this.paramGroups.map(() => false);
  }

  /** `'train'` when parameters hold y, `'eval'` when they hold x. Optimizers start in eval mode. */
  get mode(): Mode {
    return this.currentMode;
  }

  /** The parameter tensors by name (the same objects that were passed in, unless a backend replaced them). */
  get params(): Readonly<Record<string, T>> {
    return Object.fromEntries(this.entries.map((e) => [e.name, e.slots.param]));
  }

  /** A group's counters: steps taken `k`, `lrMax`, `weightSum`, and the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    this.ensureUsable('groupState');
    check(
      group >= 0 && group < this.counters.length,
      'INVALID_OPTION',
      () => `groupState: no param group ${group}.`,
    );
    return { ...this.counters[group] };
  }

  /**
   * The parameters at x (the evaluation point) as new tensors owned by the caller, without changing
   * anything in the optimizer or the parameters.
   */
  evalParams(): Record<string, T> {
    this.ensureUsable('evalParams');
    const result: Record<string, T> = {};
    const atY = this.currentMode === 'train' && this.algorithm.kind !== 'closure';
    this.paramGroups.forEach((g, gi) => {
      const members = this.entries.filter((e) => e.group === gi);
      const copies = members.map((e) => this.ops.clone(e.slots.param));
      const slots = members.map((e, i) => ({ ...e.slots, param: copies[i] }));
      if (atY && this.initialized[gi]) {
        const run = this.algorithm.moveTo(g, 'x');
        this.executeGroup(run.program, slots, run.scalars);
        // A backend with immutable tensors returns new ones: the intermediate copies are ours to free.
        for (const [i, s] of slots.entries()) if (s.param !== copies[i]) this.ops.dispose(copies[i]);
      }
      members.forEach((e, i) => {
        result[e.name] = slots[i].param;
      });
    });
    return result;
  }

  /** The full optimizer state as plain JSON (survives `JSON.stringify`/`JSON.parse`). */
  stateDict(): StateDict {
    this.ensureUsable('stateDict');
    const state: StateDict['state'] = {};
    for (const e of this.entries) {
      if (!this.initialized[e.group]) continue;
      const slots: Record<string, number[]> = {};
      for (const [slot, tensor] of Object.entries(e.slots)) {
        if (slot !== 'param') slots[slot] = Array.from(this.ops.read(tensor));
      }
      state[e.name] = slots;
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
          counters: { ...this.counters[gi] },
          initialized: this.initialized[gi],
        };
      }),
      state,
    };
  }

  /**
   * Restores a state produced by {@link stateDict} (possibly by an optimizer whose parameters were
   * listed in another order: state is matched by name). Checks everything first: a state from another
   * optimizer class, other parameter names or groups, other sizes or slots is a `STATE_MISMATCH`
   * error and changes nothing. Parameters themselves are not stored: restore them alongside.
   */
  loadStateDict(stateDict: StateDict): void {
    this.ensureUsable('loadStateDict');
    const sizes = new Map(this.entries.map((e) => [e.name, { group: e.group, size: e.size }]));
    const plans = planStateLoad(
      this.algorithm,
      this.paramGroups.map((g) => g.params),
      sizes,
      stateDict,
    ).map((p) => ({ gi: p.group, options: p.options as O, slotSpecs: p.slots, saved: p.saved }));

    for (const { gi, options, slotSpecs, saved: g } of plans) {
      for (const key of Object.keys(this.paramGroups[gi]))
        if (key !== 'params') delete (this.paramGroups[gi] as Record<string, unknown>)[key];
      Object.assign(this.paramGroups[gi], options);
      this.counters[gi] = { ...g.counters };
      this.releaseState(gi);
      if (g.initialized) {
        for (const name of g.params) {
          const entry = this.byName.get(name)!;
          for (const spec of slotSpecs) {
            const tensor = this.ops.zerosLike(entry.slots.param);
            this.ops.write(tensor, stateDict.state[name][spec.name]);
            entry.slots[spec.name] = tensor;
          }
        }
        this.initialized[gi] = true;
      }
    }
    this.currentMode = stateDict.mode;
  }

  /** Frees every buffer the optimizer created (not the parameters). Any later call throws `DISPOSED`. */
  dispose(): void {
    if (this.disposed) return;
    for (let gi = 0; gi < this.paramGroups.length; gi++) this.releaseState(gi);
    this.disposed = true;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Hands this optimizer's parameters over to another optimizer object (e.g. a wrapper): afterwards
   * every call here throws with `reason`. Only an optimizer that has taken no step can be handed over.
   */
  protected retire(reason: string): { groups: Array<{ params: Record<string, T>; options: O }> } {
    this.ensureUsable('retire');
    check(
      this.initialized.every((i) => !i),
      'INVALID_PARAMS',
      () => `${this.algorithm.name} has already taken steps; wrap a freshly constructed optimizer.`,
    );
    const groups = this.paramGroups.map((g, gi) => {
      const { params: _names, ...options } = g as ParamGroup<O> & Record<string, unknown>;
      const tensors = Object.fromEntries(
        this.entries.filter((e) => e.group === gi).map((e) => [e.name, e.slots.param]),
      );
      return { params: tensors, options: options as O };
    });
    this.retiredBecause = reason;
    return { groups };
  }

  protected ensureUsable(method: string): void {
    check(
      this.retiredBecause === null,
      'DISPOSED',
      () => `${this.algorithm.name}.${method}(): ${this.retiredBecause}`,
    );
    check(
      !this.disposed,
      'DISPOSED',
      () => `${this.algorithm.name}.${method}() was called after dispose(). Create a new optimizer instead.`,
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
   * Checks a gradient record: known names only, one per parameter, matching sizes, finite values.
   * Returns false when the step must be skipped (non-finite with `nonFiniteGrads: 'skip'`).
   */
  protected checkGrads(grads: Readonly<Record<string, T>>, method: string): boolean {
    const accepts = this.backend.accepts;
    return checkGradRecord(
      `${this.algorithm.name}.${method}`,
      this.byName,
      grads,
      {
        problem: (name, grad) =>
          accepts && !accepts(grad)
            ? `it is not a tensor this backend (${this.ops.name}) accepts`
            : (this.backend.checkGradient?.(this.byName.get(name)!.slots.param, grad) ?? null),
        size: (grad) => this.ops.size(grad),
        finite: (_name, grad) => this.ops.allFinite(grad),
      },
      this.nonFiniteGrads,
    );
  }

  /** Creates a group's state buffers (z as a copy of the parameter, moments as zeros). */
  protected initState(gi: number): void {
    const specs = this.algorithm.slots(this.paramGroups[gi]);
    for (const e of this.entries) {
      if (e.group !== gi) continue;
      for (const spec of specs) e.slots[spec.name] = this.allocateSlot(e.slots.param, spec);
    }
    this.initialized[gi] = true;
  }

  private allocateSlot(param: T, spec: SlotSpec): T {
    if (spec.init === 'clone') return this.ops.clone(param);
    const zeros = this.ops.zerosLike(param);
    if (spec.init === 'zeros' || spec.init.fill === 0) return zeros;
    const filled = this.ops.addScalar(zeros, spec.init.fill);
    this.ops.dispose(zeros);
    return filled;
  }

  /** Runs one step: plans every group first (pure), then touches buffers. Grads must be checked. */
  protected applyStep(grads: Readonly<Record<string, T>>): void {
    const plans = this.paramGroups.map((g, gi) => this.algorithm.planStep(g, this.counters[gi]));
    plans.forEach((plan, gi) => {
      if (!this.initialized[gi]) this.initState(gi);
      this.runOnGroup(gi, plan, (e) => ({ ...e.slots, grad: grads[e.name] }));
    });
    this.counters = plans.map((p) => p.counters);
  }

  /** Moves every initialized parameter to x or y. */
  protected moveAll(target: 'x' | 'y'): void {
    this.paramGroups.forEach((g, gi) => {
      if (this.initialized[gi])
        this.runOnGroup(gi, this.algorithm.moveTo(g, target), (e) => ({ ...e.slots }));
    });
  }

  /** Runs a program over every parameter of a group (in one backend call when it can) and adopts the outputs. */
  protected runOnGroup(gi: number, run: ProgramRun, slotsOf: (e: ParamEntry<T>) => Record<string, T>): void {
    const members = this.entries.filter((e) => e.group === gi);
    const slots = members.map(slotsOf);
    this.executeGroup(run.program, slots, run.scalars);
    for (const [i, e] of members.entries()) this.adopt(e, slots[i], run.program);
  }

  protected executeGroup(
    program: ElementwiseProgram,
    slots: Array<Record<string, T>>,
    scalars: Readonly<Record<string, number>>,
  ): void {
    if (this.backend.runGroup) this.backend.runGroup(program, slots, scalars);
    else for (const s of slots) this.execute(program, s, scalars);
  }

  protected execute(
    program: ElementwiseProgram,
    slots: Record<string, T>,
    scalars: Readonly<Record<string, number>>,
  ): void {
    if (this.backend.run) this.backend.run(program, slots, scalars);
    else runEager(this.ops, program, slots, scalars);
  }

  /** Takes the (possibly replaced) output tensors of a run as the entry's slots. */
  private adopt(e: ParamEntry<T>, slots: Record<string, T>, program: ElementwiseProgram): void {
    for (const name of program.outputs) {
      if (slots[name] !== e.slots[name]) {
        if (name !== 'param') this.ops.dispose(e.slots[name]);
        e.slots[name] = slots[name];
      }
    }
  }

  private releaseState(gi: number): void {
    for (const e of this.entries) {
      if (e.group !== gi) continue;
      for (const [slot, tensor] of Object.entries(e.slots)) if (slot !== 'param') this.ops.dispose(tensor);
      e.slots = { param: e.slots.param };
    }
    this.initialized[gi] = false;
  }
}

/**
 * Optimizers whose parameters hold y while training: `train()` before stepping, `eval()` before
 * evaluating or saving, `step(grads)` with gradients taken at the stored parameters.
 */
export class ScheduleFreeOptimizer<T, O extends object> extends OptimizerEngine<T, O> {
  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): this {
    this.ensureUsable('train');
    if (this.currentMode !== 'train') {
      this.moveAll('y');
      this.currentMode = 'train';
    }
    return this;
  }

  /** Switch to eval mode: parameters move to x. A no-op when already in eval mode. */
  eval(): this {
    this.ensureUsable('eval');
    if (this.currentMode !== 'eval') {
      this.moveAll('x');
      this.currentMode = 'eval';
    }
    return this;
  }

  /**
   * One optimizer step with gradients (taken at the current parameters, i.e. at y) keyed by parameter
   * name. Returns false if the step was skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`).
   */
  step(grads: Readonly<Record<string, T>>): boolean {
    this.ensureUsable('step');
    check(
      this.currentMode === 'train',
      'WRONG_MODE',
      () =>
        `${this.algorithm.name}.step() was called in eval mode. Call optimizer.train() before training steps, and optimizer.eval() before evaluating or saving.`,
    );
    this.validateGroups();
    if (!this.checkGrads(grads, 'step')) return false;
    this.applyStep(grads);
    return true;
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when `fn` throws
   * or its promise rejects). In eval mode it simply calls `fn`.
   */
  withEvalParams<R>(fn: () => R): R {
    this.ensureUsable('withEvalParams');
    if (this.currentMode === 'eval') return fn();
    const saved = this.entries.map((e) => this.ops.clone(e.slots.param));
    this.eval();
    const restore = () => {
      this.entries.forEach((e, i) => {
        this.ops.assign(e.slots.param, saved[i]);
        this.ops.dispose(saved[i]);
      });
      this.currentMode = 'train';
    };
    let result: R;
    try {
      result = fn();
    } catch (error) {
      restore();
      throw error;
    }
    if (result instanceof Promise) return result.finally(restore) as R;
    restore();
    return result;
  }
}

/** What a closure passed to {@link ScheduleFreeClosureOptimizer.step} returns. */
export type ClosureResult<T> =
  | Readonly<Record<string, T>>
  | { loss?: number; grads: Readonly<Record<string, T>> };

/**
 * Closure-driven optimizers: parameters hold x between steps; `step(closure)` moves them to y, calls
 * the closure for gradients at y, updates, and leaves them at x.
 */
export class ScheduleFreeClosureOptimizer<T, O extends object> extends OptimizerEngine<T, O> {
  /**
   * One step. The closure runs while the parameters hold y and returns the gradients (or
   * `{ loss, grads }`). Returns the loss, if the closure gave one. If the closure throws or returns
   * bad gradients, parameters are restored exactly and nothing else changes.
   */
  step(closure: () => ClosureResult<T>): number | undefined {
    this.ensureUsable('step');
    check(
      typeof closure === 'function',
      'MISSING_GRAD',
      () => `${this.algorithm.name}.step(closure) needs a function returning the gradients.`,
    );
    this.validateGroups();
    const backup = this.entries.map((e) =>
      this.initialized[e.group] ? this.ops.clone(e.slots.param) : null,
    );
    const restore = () =>
      this.entries.forEach((e, i) => {
        const copy = backup[i];
        if (copy) {
          this.ops.assign(e.slots.param, copy);
          this.ops.dispose(copy);
        }
      });
    let loss: number | undefined;
    let grads: Readonly<Record<string, T>>;
    try {
      this.moveAll('y');
      const result = closure();
      ({ loss, grads } = unpackClosureResult(result));
      if (!this.checkGrads(grads, 'step')) {
        restore();
        return loss;
      }
    } catch (error) {
      restore();
      throw error;
    }
    for (const copy of backup) if (copy) this.ops.dispose(copy);
    this.applyStep(grads);
    return loss;
  }
}

function unpackClosureResult<T>(result: ClosureResult<T>): {
  loss?: number;
  grads: Readonly<Record<string, T>>;
} {
  if (result && typeof result === 'object' && 'grads' in result) {
    const keys = Object.keys(result);
    const grads = (result as { grads: unknown }).grads;
    if (
      keys.every((k) => k === 'grads' || k === 'loss') &&
      grads &&
      typeof grads === 'object' &&
      !ArrayBuffer.isView(grads)
    ) {
      return result as { loss?: number; grads: Readonly<Record<string, T>> };
    }
  }
  return { grads: result as Readonly<Record<string, T>> };
}
