import {
  type Algorithm,
  type LegacyBackend as Backend,
  check,
  type Mode,
  ScheduleFreeError,
  type StateDict,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { tfjsBackend } from './backend.js';
import { TfjsEngine } from './engine.js';
import { syncReadAvailable, TfjsOps } from './ops.js';
import { type ParsedOptions, parseOptions, type TfjsOptimizerOptions } from './options.js';
import {
  checkStateTensors,
  encodeHeader,
  HEADER_NAME,
  matchVariables,
  type NamedTensor,
  readWeights,
  type StateHeader,
  stateTensorCount,
  stateTensorNames,
} from './serialization.js';
import { describeState, emptyHeader, groupsFor, planRestore } from './state.js';
import {
  cleanGradients,
  type GradientsInput,
  lookupVariables,
  type ModelLike,
  variablesOf,
} from './variables.js';

let warnedUnchecked = false;

/** Warns once per page/process that synchronous steps on a backend without sync reads go unchecked. */
function warnUnchecked(backend: string): void {
  if (warnedUnchecked) return;
  warnedUnchecked = true;
  console.warn(
    `@schedulefree/tfjs: on the ${backend} backend, minimize() and applyGradients() (hence model.fit) do not check gradients for NaN/Infinity: ${backend} has no reliable synchronous GPU→CPU read, so a synchronous step cannot see a check's result before it returns. A non-finite gradient will corrupt the optimizer state. Use await optimizer.minimizeAsync(f) or applyGradientsAsync(grads) for checked steps, or pass { checkFinite: false } to silence this warning.`,
  );
}

/** Lets the next unchecked synchronous step warn again (for tests). */
export function resetUncheckedWarning(): void {
  warnedUnchecked = false;
}

const isCheckable = (t: unknown): t is tf.Tensor =>
  t instanceof tf.Tensor && !t.isDisposed && t.dtype === 'float32';

/** State restored by `setWeights` before the optimizer knows its variables (e.g. `tf.loadLayersModel`). */
interface PendingState {
  header: StateHeader;
  /** State tensors in header order, owned by the optimizer. */
  tensors: tf.Tensor[];
}

/**
 * A Schedule-Free optimizer as a real `tf.Optimizer`, for any core {@link Algorithm}. Works with
 * `model.compile`/`fit`, custom loops (`minimize`, `applyGradients`), `model.save` with
 * `includeOptimizer` and `tf.loadLayersModel`.
 *
 * Modes: optimizers start in **eval mode**, where the variables hold x (the average) and
 * `minimize(f)` takes the closure form (move to y, gradients, update, back to x), so `fit`, its
 * validation, `evaluate`, `predict` and `save` all see x with no extra call. After `train()` the
 * variables hold y and `minimize`/`applyGradients` are the fast path; call `eval()` before
 * evaluating or saving.
 *
 * The optimizer learns its variables at the first step (from the gradients, or `varList`), or from
 * {@link attach}. State is kept per variable, checked on every step, and saved with its counters
 * exactly.
 */
export class ScheduleFreeTfjsOptimizer<O extends object> extends tf.Optimizer {
  /** The algorithm (options, state layout, schedule, update) this optimizer runs. */
  readonly algorithm: Algorithm<O>;
  protected readonly ops = new TfjsOps();
  protected readonly backend: Backend<tf.Tensor>;
  protected readonly parsed: ParsedOptions<O>;
  private engine: TfjsEngine<O> | null = null;
  /** The variables, in the order the optimizer first received them (the saved order). */
  private bound: tf.Variable[] = [];
  private pending: PendingState | null = null;
  /** The mode before the variables are known. */
  private requestedMode: Mode = 'eval';
  /** Tensors handed out by the last getWeights(): the header, then snapshots of the state. */
  private saved: tf.Tensor[] = [];
  private disposedFlag = false;
  /** The asynchronous step waiting for its gradient check, if any (no other call may run meanwhile). */
  private inFlight: string | null = null;

  constructor(algorithm: Algorithm<O>, options?: TfjsOptimizerOptions<O>) {
    super();
    this.algorithm = algorithm;
    this.parsed = parseOptions(algorithm, options);
    this.backend = tfjsBackend(this.ops, this.parsed.engine.kernels);
  }

  /**
   * `tf.Optimizer` answers `instanceof` for any object with `minimize`/`applyGradients`; this class
   * and its subclasses use the prototype chain again, so `instanceof AdamWScheduleFree` means it.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against.
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /**
   * Builds an optimizer from {@link getConfig}'s output (used by `tf.loadLayersModel`, which also
   * passes a `customObjects` entry that is not an option).
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { customObjects: _customObjects, ...options } = config;
    return new cls(options);
  }

  /** Registered class name (subclasses) or the algorithm's name. */
  override getClassName(): string {
    return (this.constructor as { className?: string }).className ?? this.algorithm.name;
  }

  /** `'eval'` when the variables hold x (the default), `'train'` when they hold y. */
  get mode(): Mode {
    return this.engine ? this.engine.mode : this.requestedMode;
  }

  /** The top-level hyperparameters (with defaults). Change them with {@link setLearningRate} or {@link paramGroups}. */
  get options(): Readonly<O> {
    return this.parsed.config;
  }

  /**
   * The live parameter groups (empty before the optimizer knows its variables). Edit `lr` or other
   * options here between steps; each step validates them.
   */
  get paramGroups(): ReadonlyArray<O & { readonly params: readonly string[] }> {
    return this.engine ? this.engine.paramGroups : [];
  }

  /** The learning rate of the top-level options (of the last group, which holds the unselected variables). */
  get learningRate(): number {
    return ((this.engine?.paramGroups.at(-1) ?? this.parsed.config) as unknown as { lr: number }).lr;
  }

  /** Sets the learning rate of every parameter group (an external schedule may call this every step). */
  setLearningRate(lr: number): void {
    this.ensureUsable('setLearningRate');
    this.algorithm.validate({ ...this.parsed.config, lr }, this.algorithm.name);
    (this.parsed.config as { lr: number }).lr = lr;
    for (const g of this.engine?.paramGroups ?? []) (g as unknown as { lr: number }).lr = lr;
  }

  /** Per-group counters: steps taken `k`, `lrMax`, `weightSum`, the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    this.ensureUsable('groupState');
    if (this.engine) return this.engine.groupState(group);
    const saved = this.pending?.header.groups[group];
    return saved ? { ...saved.counters } : { ...this.algorithm.initialCounters() };
  }

  /** Switches to train mode: variables move to y. A no-op when already training. */
  train(): this {
    this.ensureUsable('train');
    if (this.engine) this.engine.train();
    else this.requestedMode = 'train';
    return this;
  }

  /** Switches to eval mode: variables move to x. A no-op when already in eval mode. */
  eval(): this {
    this.ensureUsable('eval');
    if (this.engine) this.engine.eval();
    else this.requestedMode = 'eval';
    return this;
  }

  /**
   * Tells the optimizer its variables before the first step: a list of variables or a model (its
   * trainable weights, in the order `fit` uses). Needed only to switch modes, or to read x, on a
   * freshly loaded model before training it.
   */
  attach(target: readonly tf.Variable[] | ModelLike): this {
    this.ensureUsable('attach');
    const variables = variablesOf(target, `${this.algorithm.name}.attach`);
    if (this.engine) {
      const same = variables.length === this.bound.length && variables.every((v) => this.bound.includes(v));
      check(
        same,
        'INVALID_PARAMS',
        () =>
          `${this.algorithm.name}.attach: the optimizer already trains other variables (${this.bound.map((v) => v.name).join(', ')}). Create a new optimizer for these.`,
      );
      return this;
    }
    this.bind(variables);
    return this;
  }

  /**
   * x (the evaluation point) as new tensors keyed by variable name, without touching the variables
   * (the optax style). The caller owns (and disposes) them.
   */
  evalParams(): Record<string, tf.Tensor> {
    this.ensureUsable('evalParams');
    const engine = this.engine;
    check(
      engine !== null,
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.evalParams(): the optimizer does not know its variables yet. Take a step first, or call optimizer.attach(model).`,
    );
    const copies = engine.evalParams();
    const result: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(copies)) {
      result[name] = tf.keep(tf.clone(v));
      v.dispose();
    }
    return result;
  }

  /**
   * Runs `fn` with the variables at x and puts y back exactly afterwards (also when `fn` throws or
   * its promise rejects). In eval mode it simply calls `fn`.
   */
  withEvalParams<R>(fn: () => R): R {
    this.ensureUsable('withEvalParams');
    if (this.engine) return this.engine.withEvalParams(fn);
    check(
      this.pending?.header.mode !== 'train',
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.withEvalParams(): the loaded variables hold y, and the optimizer does not know them yet. Call optimizer.attach(model) first.`,
    );
    return fn();
  }

  /**
   * The state as plain JSON keyed by variable name (the core's `stateDict`): counters, options,
   * mode and every state tensor's values. For inspection and custom checkpoints; `model.save`
   * uses {@link getWeights}.
   */
  stateDict(): StateDict {
    this.ensureUsable('stateDict');
    check(
      this.engine !== null,
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.stateDict(): the optimizer does not know its variables yet. Take a step first, or call optimizer.attach(model).`,
    );
    check(
      syncReadAvailable(),
      'UNSUPPORTED',
      () =>
        `${this.algorithm.name}.stateDict(): the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read. Use await optimizer.stateDictAsync().`,
    );
    return this.engine.stateDict();
  }

  /**
   * {@link stateDict} without any synchronous read (needed on webgpu, fine everywhere): the state
   * as it is when this is called, read back asynchronously.
   */
  async stateDictAsync(): Promise<StateDict> {
    this.ensureUsable('stateDictAsync');
    const engine = this.engine;
    check(
      engine !== null,
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.stateDictAsync(): the optimizer does not know its variables yet. Take a step first, or call optimizer.attach(model).`,
    );
    // Everything is captured now: the counters by the state dict, the tensors as snapshots (clones
    // share storage and keep today's values), which are read back afterwards.
    const captured = new Map<tf.Tensor, tf.Tensor>();
    let dict: StateDict;
    try {
      dict = this.ops.readingWith(
        (t) => {
          captured.set(t, tf.keep(tf.clone(t)));
          return new Float32Array(0);
        },
        () => engine.stateDict(),
      );
      const reads: Array<Promise<void>> = [];
      for (const p of engine.snapshot().params) {
        for (const [slot, t] of Object.entries(p.slots)) {
          const copy = captured.get(t);
          const target = dict.state[p.name];
          if (!copy || !target) continue;
          reads.push(
            copy.data().then((values) => {
              target[slot] = Array.from(values as Float32Array);
            }),
          );
        }
      }
      await Promise.all(reads);
    } finally {
      tf.dispose([...captured.values()]);
    }
    return dict;
  }

  /**
   * Restores a {@link stateDict} (matched by variable name; the variables themselves are not
   * part of it). Everything is checked first: a mismatch is a `STATE_MISMATCH` error that changes nothing.
   */
  loadStateDict(state: StateDict): void {
    this.ensureUsable('loadStateDict');
    check(
      this.engine !== null,
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.loadStateDict(): the optimizer does not know its variables yet. Call optimizer.attach(model) first.`,
    );
    this.engine.loadStateDict(state);
    this.afterStep();
  }

  /**
   * Minimizes `f()` by one step. In eval mode (the default) this is the closure form: the variables
   * move to y, gradients are taken there, the update runs and the variables are left at x. In train
   * mode the gradients are taken at the variables (y). Returns the cost if `returnCost`.
   *
   * On webgpu the gradients are not checked for NaN/Infinity (see `checkFinite`); use
   * {@link minimizeAsync} for a checked step there.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    this.ensureUsable('minimize');
    return this.ops.withVerdicts(null, () => {
      const engine = this.prepareMinimize(f, varList);
      const value =
        !engine || engine.mode === 'train'
          ? this.stepAtVariables(this.computeGradients(f, varList), varList, 'minimize')
          : this.minimizeAtY(engine, f, varList);
      return costOf(value, returnCost);
    });
  }

  /**
   * {@link minimize} with the gradients checked for NaN/Infinity without any synchronous read, before
   * anything changes: one asynchronous GPU→CPU read of one flag per variable. The checked step for
   * webgpu, where `minimize` cannot check; elsewhere it behaves exactly as `minimize`. While the
   * promise is pending, the variables may hold y (in eval mode) and any other call on this optimizer
   * throws: await it before the next one. With `checkFinite: false` it is `minimize`.
   */
  async minimizeAsync(
    f: () => tf.Scalar,
    returnCost = false,
    varList?: tf.Variable[],
  ): Promise<tf.Scalar | null> {
    this.ensureUsable('minimizeAsync');
    if (this.parsed.engine.checkFinite === false) return this.minimize(f, returnCost, varList);
    const engine = this.prepareMinimize(f, varList);
    if (engine && engine.mode === 'eval')
      return costOf(await this.minimizeAtYAsync(engine, f, varList), returnCost);
    const { value, grads } = this.computeGradients(f, varList);
    let verdicts: Map<tf.Tensor, boolean>;
    try {
      verdicts = await this.waitFor('minimizeAsync', this.ops.checkFiniteAsync(Object.values(grads)));
    } catch (error) {
      tf.dispose([value, grads]);
      throw error;
    }
    return this.ops.withVerdicts(verdicts, () =>
      costOf(this.stepAtVariables({ value, grads }, varList, 'minimizeAsync'), returnCost),
    );
  }

  /** Learns the variables of a loaded optimizer before `f` runs (they may need moving first). */
  private prepareMinimize(f: () => tf.Scalar, varList?: tf.Variable[]): TfjsEngine<O> | null {
    if (!this.engine && this.pending) {
      this.bind(varList ? varList.filter((v) => v.trainable) : this.discoverVariables(f));
    }
    return this.engine;
  }

  /**
   * A step with gradients taken at the variables (train mode, or the first step of all). Owns
   * `value` and `grads`: disposes the gradients, and the value on error.
   */
  private stepAtVariables(
    { value, grads }: { value: tf.Scalar; grads: tf.NamedTensorMap },
    varList: tf.Variable[] | undefined,
    method: string,
  ): tf.Scalar {
    try {
      const named = cleanGradients(grads, this.algorithm.name, 'minimize');
      const target =
        this.engine ?? this.bind(orderedVariables(named, varList, this.algorithm.name, 'minimize'));
      this.precheck(named, method);
      if (target.mode === 'train') target.stepAtY(named, 'minimize');
      else {
        target.prepareEvalStep('minimize');
        target.stepFromYToX(named, 'minimize');
      }
      this.afterStep();
      return value;
    } catch (error) {
      value.dispose();
      throw error;
    } finally {
      tf.dispose(grads);
    }
  }

  /** The eval-mode step: variables to y, gradients, update and move to x; restored exactly on any error. */
  private minimizeAtY(engine: TfjsEngine<O>, f: () => tf.Scalar, varList?: tf.Variable[]): tf.Scalar {
    engine.prepareEvalStep('minimize');
    // Clones share storage with the variables, so these backups cost nothing.
    const backups = this.bound.map((v) => tf.keep(tf.clone(v)));
    const restore = () => this.bound.forEach((v, i) => v.assign(backups[i]));
    let value: tf.Scalar | undefined;
    let grads: tf.NamedTensorMap | undefined;
    try {
      engine.moveToY();
      ({ value, grads } = this.computeGradients(f, varList));
      const named = cleanGradients(grads, this.algorithm.name, 'minimize');
      this.precheck(named, 'minimize');
      if (!engine.stepFromYToX(named, 'minimize')) restore();
      this.afterStep();
      return value;
    } catch (error) {
      restore();
      value?.dispose();
      throw error;
    } finally {
      if (grads) tf.dispose(grads);
      tf.dispose(backups);
    }
  }

  /** {@link minimizeAtY} with the asynchronous check between the gradients and the update. */
  private async minimizeAtYAsync(
    engine: TfjsEngine<O>,
    f: () => tf.Scalar,
    varList?: tf.Variable[],
  ): Promise<tf.Scalar> {
    engine.prepareEvalStep('minimizeAsync');
    const backups = this.bound.map((v) => tf.keep(tf.clone(v)));
    const restore = () => this.bound.forEach((v, i) => v.assign(backups[i]));
    let value: tf.Scalar | undefined;
    let grads: tf.NamedTensorMap | undefined;
    try {
      engine.moveToY();
      ({ value, grads } = this.computeGradients(f, varList));
      const named = cleanGradients(grads, this.algorithm.name, 'minimize');
      const verdicts = await this.waitFor('minimizeAsync', this.ops.checkFiniteAsync(Object.values(named)));
      this.ops.withVerdicts(verdicts, () => {
        this.precheck(named, 'minimizeAsync');
        if (!engine.stepFromYToX(named, 'minimize')) restore();
      });
      this.afterStep();
      return value;
    } catch (error) {
      restore();
      value?.dispose();
      throw error;
    } finally {
      if (grads) tf.dispose(grads);
      tf.dispose(backups);
    }
  }

  /**
   * Awaits an asynchronous check; meanwhile every other call on this optimizer throws. Throws
   * `DISPOSED` if the optimizer was disposed while waiting.
   */
  private async waitFor<T>(method: string, promise: Promise<T>): Promise<T> {
    this.inFlight = method;
    let result: T;
    try {
      result = await promise;
    } finally {
      this.inFlight = null;
    }
    this.ensureUsable(method);
    return result;
  }

  /**
   * Applies gradients taken at the variables (train mode only): `{ [variable.name]: gradient }` or
   * `[{ name, tensor }]`. In eval mode it throws, saying to call `train()` or use `minimize`.
   */
  override applyGradients(variableGradients: GradientsInput): void {
    this.ensureUsable('applyGradients');
    this.ops.withVerdicts(null, () => this.applyGradientsNow(variableGradients));
  }

  /**
   * {@link applyGradients} with the gradients checked for NaN/Infinity without any synchronous read,
   * before anything changes: one asynchronous GPU→CPU read of one flag per variable. The checked
   * step for webgpu, where `applyGradients` cannot check; elsewhere it behaves exactly as
   * `applyGradients`. Any other call on this optimizer throws until the promise settles. With
   * `checkFinite: false` it is `applyGradients`.
   */
  async applyGradientsAsync(variableGradients: GradientsInput): Promise<void> {
    this.ensureUsable('applyGradientsAsync');
    if (this.parsed.engine.checkFinite === false) return this.applyGradients(variableGradients);
    const named = cleanGradients(variableGradients, this.algorithm.name, 'applyGradients');
    const verdicts = await this.waitFor(
      'applyGradientsAsync',
      this.ops.checkFiniteAsync(Object.values(named)),
    );
    this.ops.withVerdicts(verdicts, () => this.applyGradients(variableGradients));
  }

  private applyGradientsNow(variableGradients: GradientsInput): void {
    const named = cleanGradients(variableGradients, this.algorithm.name, 'applyGradients');
    if (!this.engine) {
      check(
        this.requestedMode === 'train',
        'WRONG_MODE',
        () =>
          `${this.algorithm.name}.applyGradients() was called in eval mode, where the variables hold x (the average). Call optimizer.train() before training steps (and optimizer.eval() before evaluating, predicting or saving), or use optimizer.minimize(f), which takes the step in eval mode and leaves the variables at x.`,
      );
      this.bind(lookupVariables(Object.keys(named), this.algorithm.name));
    }
    const engine = this.engine!;
    if (engine.mode === 'train') this.precheck(named, 'applyGradients');
    engine.stepAtY(named, 'applyGradients');
    this.afterStep();
  }

  /** Serializable hyperparameters and engine options (not the parameter groups: those are saved with the weights). */
  override getConfig(): tf.serialization.ConfigDict {
    const { config, engine } = this.parsed;
    const { checkFinite, ...always } = engine;
    // checkFinite is saved only when given: unset means "wherever a synchronous check is possible".
    const options = checkFinite === undefined ? always : engine;
    return structuredClone({ ...config, ...options }) as tf.serialization.ConfigDict;
  }

  /**
   * The state to save: a header (mode, counters, options, the variables' names and shapes, exact
   * as JSON) followed by each variable's state tensors. The returned tensors are snapshots owned by
   * the optimizer, valid until the next `getWeights()` or `dispose()`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.ensureUsable('getWeights');
    let header: StateHeader;
    let tensors: NamedTensor[];
    if (this.engine)
      ({ header, tensors } = describeState(this.algorithm, this.engine.snapshot(), this.bound));
    else if (this.pending) {
      header = this.pending.header;
      const names = stateTensorNames(header);
      tensors = this.pending.tensors.map((t, i) => ({ name: names[i], tensor: t }));
    } else {
      header = { ...emptyHeader(this.algorithm.name), mode: this.requestedMode };
      tensors = [];
    }
    // Snapshots: clones share storage with the state (no copy) but keep today's values after later
    // steps. They stay valid until the next getWeights() or dispose().
    tf.dispose(this.saved);
    this.saved = [tf.keep(encodeHeader(header)), ...tensors.map((t) => tf.keep(tf.clone(t.tensor)))];
    return [
      { name: HEADER_NAME, tensor: this.saved[0] },
      ...tensors.map((t, i) => ({ name: t.name, tensor: this.saved[i + 1] })),
      ...(await this.extraWeights()),
    ];
  }

  /**
   * Restores state saved by {@link getWeights}, e.g. by `tf.loadLayersModel`. Before the first step
   * the state waits, and is matched to the variables of the first step (by name if they all match,
   * otherwise by position: a model loaded in the same process has renamed variables), checking
   * count and shapes. A state that does not fit is a `STATE_MISMATCH` error that changes nothing.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.ensureUsable('setWeights');
    const where = `${this.getClassName()}.setWeights`;
    const { header, state } = await readWeights(weightValues, this.algorithm.name, where);
    checkStateTensors(header, state, where, false);
    if (this.engine && header.params.length > 0) matchVariables(header, this.bound, where);
    await this.restoreExtraWeights(state.slice(stateTensorCount(header)), where);
    if (header.params.length === 0) {
      // Saved before any step: back to a fresh optimizer in the saved mode.
      this.engine?.dispose();
      this.engine = null;
      this.bound = [];
      if (this.pending) tf.dispose(this.pending.tensors);
      this.pending = null;
      this.requestedMode = header.mode;
      this.iterations_ = 0;
      return;
    }
    const pending: PendingState = {
      header,
      tensors: state.slice(0, stateTensorCount(header)).map((t) => tf.variable(t.tensor, false)),
    };
    if (this.engine) {
      try {
        const { engine, ordered } = this.restore(pending, this.bound, where);
        this.engine.dispose();
        this.engine = engine;
        this.bound = ordered;
      } catch (error) {
        tf.dispose(pending.tensors);
        throw error;
      }
    } else {
      if (this.pending) tf.dispose(this.pending.tensors);
      this.pending = pending;
      this.requestedMode = header.mode;
    }
    this.iterations_ = header.groups[0]?.counters.k ?? 0;
  }

  /** Frees every tensor the optimizer created (not the variables). Any later call throws `DISPOSED`. */
  override dispose(): void {
    if (this.disposedFlag) return;
    this.engine?.dispose();
    if (this.pending) tf.dispose(this.pending.tensors);
    tf.dispose(this.saved);
    this.engine = null;
    this.pending = null;
    this.saved = [];
    this.disposedFlag = true;
    super.dispose();
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  protected ensureUsable(method: string): void {
    check(
      !this.disposedFlag,
      'DISPOSED',
      () => `${this.getClassName()}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
    check(
      this.inFlight === null,
      'UNSUPPORTED',
      () =>
        `${this.getClassName()}.${method}() was called while ${this.inFlight}() is waiting for its gradient check. Await it first.`,
    );
  }

  /**
   * Decides the finiteness of the gradients of a step before the engine checks them: one check for
   * all of them where a synchronous read is possible; none with `checkFinite: false`; on webgpu none
   * either (with a one-time warning), or an `UNSUPPORTED` error with an explicit `checkFinite: true`.
   * Gradients already checked (the asynchronous steps) are left as they are.
   */
  private precheck(grads: Readonly<Record<string, tf.Tensor>>, method: string): void {
    const all = Object.values(grads);
    const valid = all.filter(isCheckable);
    const unknown = valid.filter((t) => this.ops.verdict(t) === undefined);
    if (unknown.length === 0) return;
    const { checkFinite } = this.parsed.engine;
    if (checkFinite === false) {
      this.ops.assumeFinite(unknown);
      return;
    }
    if (syncReadAvailable()) {
      // One check for all; with an invalid gradient the engine's own checks report it instead.
      if (valid.length === all.length) this.ops.allFiniteTogether(unknown);
      return;
    }
    const backend = tf.getBackend();
    check(
      checkFinite !== true,
      'UNSUPPORTED',
      () =>
        `${this.getClassName()}.${method}(): checkFinite: true cannot be honoured by a synchronous step on the ${backend} backend, which has no reliable synchronous GPU→CPU read; nothing was changed. Use await optimizer.${method.replace(/Async$/, '')}Async(...), which checks the gradients before anything changes, or pass { checkFinite: false }.`,
    );
    warnUnchecked(backend);
    this.ops.assumeFinite(unknown);
  }

  private afterStep(): void {
    this.iterations_ = this.engine?.groupState(0).k ?? 0;
  }

  /** Finds the variables `f` depends on by computing its gradients once (only after a load). */
  private discoverVariables(f: () => tf.Scalar): tf.Variable[] {
    const { value, grads } = this.computeGradients(f);
    const names = Object.keys(cleanGradients(grads, this.algorithm.name, 'minimize'));
    tf.dispose([value, grads]);
    return lookupVariables(names, this.algorithm.name);
  }

  /** Learns the variables: restores waiting state, or creates fresh state lazily at the first step. */
  private bind(given: readonly tf.Variable[]): TfjsEngine<O> {
    const where = this.algorithm.name;
    const variables = variablesOf(given, where);
    check(
      new Set(variables).size === variables.length,
      'INVALID_PARAMS',
      () => `${where}: a variable appears twice in the list.`,
    );
    let engine: TfjsEngine<O>;
    let ordered = variables;
    if (this.pending) {
      ({ engine, ordered } = this.restore(this.pending, variables, `${this.getClassName()}.setWeights`));
      this.pending = null;
    } else {
      engine = this.createEngine(groupsFor(this.parsed.groups, variables, where), this.parsed.config);
    }
    if (this.requestedMode !== engine.mode) {
      if (this.requestedMode === 'train') engine.train();
      else engine.eval();
    }
    this.engine = engine;
    this.bound = ordered;
    return engine;
  }

  /** Creates the engine over parameter groups (overridden by the wrapper, whose step runs its base optimizer). */
  protected createEngine(
    groups: Array<{ params: Record<string, tf.Tensor> } & Partial<O>>,
    options: Partial<O>,
  ): TfjsEngine<O> {
    return new TfjsEngine(this.algorithm, this.backend, groups, {
      ...options,
      nonFiniteGrads: this.parsed.engine.nonFiniteGrads,
    });
  }

  /** Weights saved after the state tensors (the wrapper's base optimizer). */
  protected async extraWeights(): Promise<NamedTensor[]> {
    return [];
  }

  /** Restores {@link extraWeights}; called after every check of the state passed, before it is applied. */
  protected async restoreExtraWeights(extra: NamedTensor[], where: string): Promise<void> {
    if (extra.length > 0) {
      throw new ScheduleFreeError(
        'STATE_MISMATCH',
        `${where}: ${extra.length} unexpected weights after the state tensors (${extra
          .slice(0, 3)
          .map((w) => w.name)
          .join(', ')}…).`,
      );
    }
  }

  /** Builds an engine over `variables` from saved state; checks everything first and changes nothing on error. */
  private restore(
    pending: PendingState,
    variables: readonly tf.Variable[],
    where: string,
  ): { engine: TfjsEngine<O>; ordered: tf.Variable[] } {
    const plan = planRestore(this.algorithm, pending.header, pending.tensors, variables, where);
    const engine = this.createEngine(plan.groups, {});
    engine.adoptState(plan.snapshot);
    // Saved options win, as in PyTorch's load_state_dict; with one group they are the top level too.
    if (pending.header.groups.length === 1)
      Object.assign(this.parsed.config, pending.header.groups[0].options);
    return { engine, ordered: plan.ordered };
  }
}

/** What `minimize` returns: the cost, or null (disposing it). */
function costOf(value: tf.Scalar, returnCost: boolean): tf.Scalar | null {
  if (returnCost) return value;
  value.dispose();
  return null;
}

/** The variables of a step, in `varList` order when given, else in the order of the gradients. */
function orderedVariables(
  grads: Readonly<Record<string, tf.Tensor>>,
  varList: readonly tf.Variable[] | undefined,
  where: string,
  method: string,
): tf.Variable[] {
  if (varList) return varList.filter((v) => grads[v.name] != null);
  return lookupVariables(Object.keys(grads), `${where}.${method}`);
}
