import {
  type Algorithm,
  type Backend,
  check,
  Engine,
  type Mode,
  type Operation,
  perParameter,
  type StateDict,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { type GroupRunner, tfjsBackend } from './backend.js';
import { Binding, type EngineGroups } from './binding.js';
import { FiniteChecks, syncReadAvailable } from './finite.js';
import { type ParsedOptions, parseOptions, type TfjsOptimizerOptions } from './options.js';
import {
  checkSavedState,
  encodeHeader,
  HEADER_NAME,
  type NamedTensor,
  readSavedWeights,
  savedWeights,
} from './saving.js';
import {
  cleanGradients,
  type GradientsInput,
  lookupVariables,
  type ModelLike,
  type NamedGradients,
  orderedVariables,
  presentGradients,
  variablesOf,
} from './variables.js';

/** A group for {@link ScheduleFreeTfjsOptimizer.addParamGroup}: its variables and the options that differ. */
export type AddedParamGroup<O> = Partial<O> & { params: readonly tf.Variable[] | ModelLike };

/**
 * What a gradient step may be given besides the gradients: the loss at the variables (y), which
 * `AdamCScheduleFreePlusPaper` needs every step for its Polyak step size (a number, or a scalar
 * tensor such as the `value` of `tf.variableGrads`). Other classes ignore it.
 */
export interface GradientStepExtras {
  loss?: number | tf.Tensor;
}

/**
 * Registers an optimizer class with `tf.serialization` (once), so that `tf.loadLayersModel` can
 * rebuild it. Only classes with their own static `className` register (a subclass without one
 * would take its parent's name).
 */
export function registerOptimizerClass(cls: object): void {
  if (!Object.hasOwn(cls, 'className')) return;
  const { className } = cls as { className: string };
  if (tf.serialization.SerializationMap.getMap().classNameMap[className]?.[0] === cls) return;
  tf.serialization.registerClass(cls as tf.serialization.SerializableConstructor<tf.Optimizer>);
}

/**
 * A Schedule-Free optimizer as a real `tf.Optimizer`, for any core {@link Algorithm}: the
 * `tf.Optimizer` protocol (`minimize`, `applyGradients`, `getWeights`/`setWeights`, `getConfig`)
 * over the core's engine, which does the work (groups, state, modes, checks, call order).
 *
 * Modes: optimizers start in **eval mode**, where the variables hold x (the average) and
 * `minimize(f)` takes the closure form (move to y, gradients, update, back to x), so `fit`, its
 * validation, `evaluate`, `predict` and `save` all see x with no extra call. After `train()` the
 * variables hold y and `minimize`/`applyGradients` are the fast path; call `eval()` before
 * evaluating or saving.
 *
 * The optimizer learns its variables at the first step (from the gradients, or `varList`), or from
 * {@link attach}. The asynchronous calls (`applyGradientsAsync`, `minimizeAsync`,
 * `stateDictAsync`) take effect in the order they are made, each with the options it was made
 * with; a synchronous call while one is pending is refused (await it first).
 */
export class ScheduleFreeTfjsOptimizer<O extends object> extends tf.Optimizer {
  /** The algorithm (options, state layout, schedule, update) this optimizer runs. */
  readonly algorithm: Algorithm<O>;
  protected readonly parsed: ParsedOptions<O>;
  /** The finite-check policy of this optimizer's `checkFinite` option. */
  protected readonly checks: FiniteChecks;
  private backend: Backend<tf.Tensor> | null = null;
  private readonly binding: Binding<O>;
  /** Tensors handed out by the last getWeights(): the header, then snapshots of the state. */
  private saved: tf.Tensor[] = [];
  private disposed = false;

  constructor(algorithm: Algorithm<O>, options?: TfjsOptimizerOptions<O>) {
    super();
    registerOptimizerClass(this.constructor);
    this.algorithm = algorithm;
    this.parsed = parseOptions(algorithm, options);
    this.checks = new FiniteChecks(this.parsed.engine.checkFinite, () => this.getClassName());
    this.binding = new Binding<O>({
      name: algorithm.name,
      groupSpecs: this.parsed.groups,
      createEngine: (groups) => this.createEngine(groups),
      now: (engine, op) => this.now(engine, op),
      restored: (header) => {
        // Saved options win, as in PyTorch's load_state_dict; with one group they are the top level too.
        if (header.groups.length === 1) Object.assign(this.parsed.config, header.groups[0].options);
      },
    });
  }

  /**
   * Registers this class with `tf.serialization`, which `tf.loadLayersModel` needs to rebuild it.
   * Constructing an optimizer registers its class; call this (or `registerOptimizers()`) before
   * loading a saved model in a program that has not constructed one.
   */
  static register(): void {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being registered.
    registerOptimizerClass(this);
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
    return this.binding.engine?.mode ?? this.binding.mode;
  }

  /** The top-level hyperparameters (with defaults). Change them with {@link setLearningRate} or {@link paramGroups}. */
  get options(): Readonly<O> {
    return this.parsed.config;
  }

  /**
   * The live parameter groups (empty before the optimizer knows its variables). Edit `lr` or other
   * options here between steps; each step validates them and uses the values it was called with.
   */
  get paramGroups(): ReadonlyArray<O & { readonly params: readonly string[] }> {
    return this.binding.engine?.paramGroups ?? [];
  }

  /** The learning rate of the top-level options (of the last group, which holds the unselected variables). */
  get learningRate(): number {
    return ((this.binding.engine?.paramGroups.at(-1) ?? this.parsed.config) as unknown as { lr: number }).lr;
  }

  /** Sets the learning rate of every parameter group (an external schedule may call this every step). */
  setLearningRate(lr: number): void {
    this.ensureUsable('setLearningRate');
    this.algorithm.validate({ ...this.parsed.config, lr }, this.algorithm.name);
    (this.parsed.config as { lr: number }).lr = lr;
    for (const g of this.binding.engine?.paramGroups ?? []) (g as unknown as { lr: number }).lr = lr;
  }

  /**
   * Adds a parameter group while training, as PyTorch's `add_param_group` (e.g. to train layers
   * the optimizer has not trained so far): `{ params: [variables] | model, ...options }`, options
   * not given taking the constructor's. The variables must be live float32 `tf.Variable`s that the
   * optimizer does not train yet; the options are validated; on error nothing changes. The group's
   * state is created at its first step, and it is saved and restored with the others (`getWeights`,
   * `stateDict`). Needs the optimizer to know its variables (after a step, or `attach`).
   */
  addParamGroup(group: AddedParamGroup<O>): void {
    const engine = this.boundEngine(
      'addParamGroup',
      'Take a step first or call optimizer.attach(model); or pass paramGroups to the constructor.',
    );
    const where = `${this.getClassName()}.addParamGroup`;
    check(
      group !== null && typeof group === 'object' && !Array.isArray(group) && 'params' in group,
      'INVALID_PARAMS',
      () => `${where}: pass a group { params: [variables] or a model, ...options }.`,
    );
    const { params, ...overrides } = group;
    const variables = variablesOf(params, where);
    const bound = new Set(this.binding.variables);
    for (const [i, v] of variables.entries()) {
      check(
        !bound.has(v) && variables.indexOf(v) === i,
        'INVALID_PARAMS',
        () =>
          `${where}: variable "${v.name}" ${bound.has(v) ? 'is already trained by this optimizer' : 'appears twice in the group'}. Give each variable one group.`,
      );
    }
    const tensors = Object.fromEntries(variables.map((v) => [v.name, v as tf.Tensor]));
    this.now(engine, engine.addParamGroup({ ...(overrides as Partial<O>), params: tensors }));
    this.binding.variables.push(...variables);
  }

  /** Per-group counters: steps taken `k`, `lrMax`, `weightSum`, the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    this.ensureUsable('groupState');
    const { engine, pending } = this.binding;
    if (engine) return engine.groupState(group);
    const saved = pending?.header.groups[group];
    return saved ? { ...saved.counters } : { ...this.algorithm.initialCounters() };
  }

  /** Resolves once every call made so far has taken effect. */
  ready(): Promise<void> {
    return this.binding.engine?.settled() ?? Promise.resolve();
  }

  /** Switches to train mode: variables move to y. A no-op when already training. */
  train(): this {
    this.ensureUsable('train');
    const engine = this.binding.engine;
    if (engine) this.now(engine, engine.train());
    else this.binding.mode = 'train';
    return this;
  }

  /** Switches to eval mode: variables move to x. A no-op when already in eval mode. */
  eval(): this {
    this.ensureUsable('eval');
    const engine = this.binding.engine;
    if (engine) this.now(engine, engine.eval());
    else this.binding.mode = 'eval';
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
    const { engine, variables: bound } = this.binding;
    if (!engine) this.binding.bind(variables);
    else {
      check(
        variables.length === bound.length && variables.every((v) => bound.includes(v)),
        'INVALID_PARAMS',
        () =>
          `${this.algorithm.name}.attach: the optimizer already trains other variables (${bound.map((v) => v.name).join(', ')}). Create a new optimizer for these.`,
      );
    }
    return this;
  }

  /**
   * x (the evaluation point) as new tensors keyed by variable name, without touching the variables
   * (the optax style). The caller owns (and disposes) them.
   */
  evalParams(): Record<string, tf.Tensor> {
    const engine = this.boundEngine('evalParams');
    const copies = perParameter(engine, this.now(engine, engine.evalParams()));
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
    const engine = this.binding.engine;
    if (engine) return engine.nowOrLater(engine.withEvalParams(fn)) as R;
    check(
      this.binding.pending?.header.mode !== 'train',
      'INVALID_PARAMS',
      () =>
        `${this.algorithm.name}.withEvalParams(): the loaded variables hold y, and the optimizer does not know them yet. Call optimizer.attach(model) first.`,
    );
    return fn();
  }

  /**
   * The state as plain JSON keyed by variable name (the core's `stateDict`): counters, options,
   * mode and every state tensor's values. For inspection and custom checkpoints; `model.save`
   * uses {@link getWeights}. On webgpu, which cannot read synchronously, use {@link stateDictAsync}.
   */
  stateDict(): StateDict {
    const engine = this.boundEngine('stateDict');
    return this.now(engine, engine.stateDict());
  }

  /**
   * {@link stateDict} without any synchronous read (needed on webgpu, fine everywhere): the state
   * once the calls made before this one have taken effect.
   */
  async stateDictAsync(): Promise<StateDict> {
    const engine = this.boundEngine('stateDictAsync');
    return engine.later(named(engine.stateDict(), 'stateDictAsync'));
  }

  /**
   * Restores a {@link stateDict} (matched by variable name; the variables themselves are not
   * part of it). Everything is checked first: a mismatch is a `STATE_MISMATCH` error that changes nothing.
   */
  loadStateDict(state: StateDict): void {
    const engine = this.boundEngine('loadStateDict', 'Call optimizer.attach(model) first.');
    this.now(engine, engine.loadStateDict(state));
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
    const step = this.gradientStep(f, varList, 'minimize', true);
    try {
      const { engine, op } = step.prepare();
      this.now(engine, op);
    } catch (error) {
      throw step.failed(error);
    }
    return step.done(returnCost);
  }

  /**
   * {@link minimize} with the gradients checked for NaN/Infinity without any synchronous read, before
   * anything changes (one asynchronous GPU→CPU read for all gradients on webgl and webgpu). The
   * checked step for webgpu, where `minimize` cannot check; elsewhere it is `minimize`. It takes
   * effect after the calls made before it; `f` runs then (in eval mode, with the variables at y).
   */
  async minimizeAsync(
    f: () => tf.Scalar,
    returnCost = false,
    varList?: tf.Variable[],
  ): Promise<tf.Scalar | null> {
    this.ensureUsable('minimizeAsync');
    const step = this.gradientStep(f, varList, 'minimizeAsync', false);
    try {
      const { engine, op } = step.prepare();
      await engine.later(op);
    } catch (error) {
      throw step.failed(error);
    }
    return step.done(returnCost);
  }

  /**
   * Applies gradients taken at the variables (train mode only): `{ [variable.name]: gradient }` or
   * `[{ name, tensor }]`. In eval mode it throws, saying to call `train()` or use `minimize`.
   */
  override applyGradients(variableGradients: GradientsInput, extras?: GradientStepExtras): void {
    this.ensureUsable('applyGradients');
    const loss = this.lossOf(extras, 'applyGradients');
    const named = cleanGradients(variableGradients, this.algorithm.name, 'applyGradients');
    const engine = this.engineForGradients(named, 'applyGradients');
    const step = engine.step(named as Record<string, tf.Tensor>, { method: 'applyGradients', loss });
    const checks = this.checks;
    // The gradients are prechecked once the engine runs the step (not when it refuses it).
    const prechecked: Operation<boolean> = {
      method: step.method,
      prepare: (deferred) => {
        const work = step.prepare(deferred);
        return function* () {
          if (engine.mode === 'train') checks.precheck(presentGradients(named), 'applyGradients');
          return yield* work();
        };
      },
    };
    this.now(engine, this.stepOperation(prechecked));
    this.afterStep();
  }

  /**
   * {@link applyGradients} with the gradients checked for NaN/Infinity without any synchronous read,
   * before anything changes. The checked step for webgpu, where `applyGradients` cannot check;
   * elsewhere it is `applyGradients`. It takes effect after the calls made before it, with the
   * options and gradient values of the moment it is called.
   */
  async applyGradientsAsync(variableGradients: GradientsInput, extras?: GradientStepExtras): Promise<void> {
    this.ensureUsable('applyGradientsAsync');
    const loss = this.lossOf(extras, 'applyGradientsAsync');
    const named = cleanGradients(variableGradients, this.algorithm.name, 'applyGradientsAsync');
    const engine = this.engineForGradients(named, 'applyGradientsAsync');
    const step = engine.step(named as Record<string, tf.Tensor>, { method: 'applyGradientsAsync', loss });
    await engine.later(this.stepOperation(step));
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
   * as JSON) followed by each variable's state tensors, as it is once the calls made before this
   * one have taken effect. The returned tensors are snapshots owned by the optimizer, valid until
   * the next `getWeights()` or `dispose()`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.ensureUsable('getWeights');
    const { header, tensors, extra } = await savedWeights(this.algorithm, this.binding, () =>
      this.extraWeights(),
    );
    tf.dispose(this.saved);
    this.saved = [tf.keep(encodeHeader(header)), ...tensors.map((t) => t.tensor)];
    return [{ name: HEADER_NAME, tensor: this.saved[0] }, ...tensors, ...extra];
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
    const saved = await readSavedWeights(weightValues, this.algorithm.name, this.binding, where);
    // Bound variables: the engine checks everything when it loads. Before that, the counters,
    // options and structure are checked now, so that a damaged header is refused here.
    if (!this.binding.engine) checkSavedState(this.algorithm, saved.header, saved.tensors);
    await this.restoreExtraWeights(saved.extra, where);
    this.binding.load(saved.header, saved.tensors);
    this.iterations_ = saved.header.groups[0]?.counters.k ?? 0;
  }

  /**
   * Frees every tensor the optimizer created (not the variables). Calls made before it still take
   * effect; any later call throws `DISPOSED`.
   */
  override dispose(): void {
    if (this.disposed) return;
    // The engine refuses first if this is called from inside a step's f.
    const done = this.binding.engine?.dispose();
    this.disposed = true;
    const release = () => {
      this.binding.release();
      tf.dispose(this.saved);
      this.saved = [];
      this.released();
      super.dispose();
    };
    if (done) void done.then(release, release);
    else release();
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  protected ensureUsable(method: string): void {
    check(
      !this.disposed,
      'DISPOSED',
      () => `${this.getClassName()}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
  }

  /** Runs an operation synchronously; the finite checks know the call cannot wait. */
  private now<R>(engine: Engine<tf.Tensor, O>, op: Operation<R>): R {
    return this.checks.synchronous(() => engine.now(op));
  }

  /** A step operation as this class runs it (the wrapper pins its base's learning rate). */
  protected stepOperation<R>(op: Operation<R>): Operation<R> {
    return op;
  }

  /** The runner of runs that are not elementwise programs (the wrapper's base step). */
  protected groupRunner(): GroupRunner | undefined {
    return undefined;
  }

  /** Weights saved after the state tensors (the wrapper's base optimizer). */
  protected async extraWeights(): Promise<NamedTensor[]> {
    return [];
  }

  /** Restores {@link extraWeights}; called after every check of the state passed, before it is applied. */
  protected async restoreExtraWeights(extra: NamedTensor[], where: string): Promise<void> {
    check(
      extra.length === 0,
      'STATE_MISMATCH',
      () =>
        `${where}: ${extra.length} unexpected weights after the state tensors (${extra
          .slice(0, 3)
          .map((w) => w.name)
          .join(', ')}…).`,
    );
  }

  /** Called once everything the optimizer holds is released (after the calls made before dispose()). */
  protected released(): void {}

  private createEngine(groups: EngineGroups<O>): Engine<tf.Tensor, O> {
    const { kernels, nonFiniteGrads, omittedGrads } = this.parsed.engine;
    this.backend ??= tfjsBackend({ kernels, checks: this.checks, groupRunner: this.groupRunner() });
    const name = this.getClassName();
    return new Engine<tf.Tensor, O>({
      algorithm: this.algorithm,
      backend: this.backend,
      params: groups,
      options: { ...this.parsed.config, nonFiniteGrads, omittedGrads },
      name,
      hints: {
        wrongMode:
          'Or use optimizer.minimize(f), which takes the step in eval mode and leaves the variables at x.',
        needsAsync: (method) =>
          `${name}.${method}(): the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read. Use await optimizer.${method}Async().`,
      },
    });
  }

  private boundEngine(
    method: string,
    fix = 'Take a step first, or call optimizer.attach(model).',
  ): Engine<tf.Tensor, O> {
    this.ensureUsable(method);
    const engine = this.binding.engine;
    check(
      engine !== null,
      'INVALID_PARAMS',
      () => `${this.algorithm.name}.${method}(): the optimizer does not know its variables yet. ${fix}`,
    );
    return engine;
  }

  /** The engine for a gradient step, learning the variables from the gradients at the first one. */
  private engineForGradients(named: NamedGradients, method: string): Engine<tf.Tensor, O> {
    const { engine } = this.binding;
    if (engine) return engine;
    check(
      this.binding.mode === 'train',
      'WRONG_MODE',
      () =>
        `${this.algorithm.name}.${method}() was called in eval mode, where the variables hold x (the average). Call optimizer.train() before training steps (and optimizer.eval() before evaluating, predicting or saving), or use optimizer.minimize(f), which takes the step in eval mode and leaves the variables at x.`,
    );
    return this.binding.bind(lookupVariables(Object.keys(named), this.algorithm.name));
  }

  /**
   * The closure step of `minimize(f)`: its gradients are taken when the engine calls for them (in
   * eval mode, at y). At the first step of all they are taken at once, to learn the variables; after
   * a load, before anything else, the variables are found from `f` first (they may need moving).
   * `done` and `failed` release the gradients, and the cost unless it is returned.
   */
  private gradientStep(
    f: () => tf.Scalar,
    varList: tf.Variable[] | undefined,
    method: string,
    synchronous: boolean,
  ) {
    let value: tf.Scalar | undefined;
    let grads: tf.NamedTensorMap | undefined;
    let named: NamedGradients | undefined;
    const needsLoss = this.algorithm.needsLoss === true;
    if (needsLoss && synchronous) this.assertSyncLossRead(method);
    const gradients = () => {
      if (!named) {
        ({ value, grads } = this.computeGradients(f, varList));
        named = cleanGradients(grads, this.algorithm.name, method);
      }
      return named;
    };
    const release = () => {
      if (grads) tf.dispose(grads);
    };
    return {
      prepare: () => {
        const { binding } = this;
        let engine = binding.engine;
        if (!engine && binding.pending) engine = binding.bind(varList ?? this.discoverVariables(f, method));
        engine ??= binding.bind(orderedVariables(gradients(), varList, `${this.algorithm.name}.${method}`));
        // Variables tfjs gives a null gradient (non-trainable ones of varList, e.g. a layer set
        // trainable = false) are frozen this step; ones it leaves out (not reached by f) are omitted.
        const closure = () => {
          const g = gradients() as Record<string, tf.Tensor>;
          this.checks.precheck(presentGradients(g), method);
          if (!needsLoss) return g;
          // The loss at y, read back as a number (the Polyak step size needs it on the host).
          if (synchronous) return { loss: value!.dataSync()[0], grads: g };
          return value!.data().then((v) => ({ loss: v[0], grads: g }));
        };
        return { engine, op: this.stepOperation(engine.closureStep(closure, method)) };
      },
      done: (returnCost: boolean) => {
        release();
        this.afterStep();
        return costOf(value!, returnCost);
      },
      failed: (error: unknown) => {
        release();
        value?.dispose();
        return error;
      },
    };
  }

  /** The loss given to a gradient step, as a number; checked where the class needs one. */
  private lossOf(extras: GradientStepExtras | undefined, method: string): number | undefined {
    const where = `${this.getClassName()}.${method}`;
    check(
      extras === undefined || (extras !== null && typeof extras === 'object'),
      'INVALID_LOSS',
      () =>
        `${where}(grads, extras): extras must be an object such as { loss }, got ${JSON.stringify(extras)}.`,
    );
    const given = extras?.loss;
    let loss: unknown = given;
    if (given instanceof tf.Tensor) {
      check(
        !given.isDisposed && given.size === 1,
        'INVALID_LOSS',
        () =>
          `${where}: the loss must be a number or a live scalar tensor, got a tensor of shape [${given.shape}].`,
      );
      this.assertSyncLossRead(method);
      loss = given.dataSync()[0];
    }
    if (this.algorithm.needsLoss) {
      check(
        typeof loss === 'number' && Number.isFinite(loss),
        'INVALID_LOSS',
        () =>
          `${where}: ${this.getClassName()} needs the loss at the variables every step (its Polyak step size). Pass it as ${method}(grads, { loss }), or use minimize(f), which computes it (model.fit does). Got ${loss === undefined ? 'none' : String(loss)}; nothing was changed.`,
      );
    }
    return loss as number | undefined;
  }

  /** Refuses a synchronous read of the loss on a backend that cannot read synchronously (webgpu). */
  private assertSyncLossRead(method: string): void {
    check(
      syncReadAvailable(),
      'UNSUPPORTED',
      () =>
        `${this.getClassName()}.${method}(): the loss must be read as a number every step, and the ${tf.getBackend()} backend has no reliable synchronous GPU→CPU read. Use await optimizer.${method.replace(/Async$/, '')}Async(...)${method.startsWith('apply') ? ' with { loss: number }' : ''}; nothing was changed.`,
    );
  }

  /** Finds the variables `f` depends on by computing its gradients once (only after a load). */
  private discoverVariables(f: () => tf.Scalar, method: string): tf.Variable[] {
    const { value, grads } = this.computeGradients(f);
    const names = Object.keys(cleanGradients(grads, this.algorithm.name, method));
    tf.dispose([value, grads]);
    return lookupVariables(names, this.algorithm.name);
  }

  private afterStep(): void {
    const engine = this.binding.engine;
    if (engine && !engine.isDisposed) this.iterations_ = engine.groupState(0).k;
  }
}

/** An operation under the adapter's name for it (in the engine's messages). */
function named<R>(op: Operation<R>, method: string): Operation<R> {
  return { method, prepare: op.prepare };
}

/** What `minimize` returns: the cost, or null (disposing it). */
function costOf(value: tf.Scalar, returnCost: boolean): tf.Scalar | null {
  if (returnCost) return value;
  value.dispose();
  return null;
}
