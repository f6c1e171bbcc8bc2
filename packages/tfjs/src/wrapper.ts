import {
  type Algorithm,
  advanceSchedule,
  type Counters,
  check,
  inRange,
  lerpToZProgram,
  nonNegative,
  type OptionSchema,
  type ScheduleCounters,
  ScheduleFreeError,
  validateOptions,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { TfjsEngine } from './engine.js';
import { ScheduleFreeTfjsOptimizer } from './optimizer.js';
import type { TfjsEngineOptions } from './options.js';
import type { NamedTensor } from './serialization.js';

/** Options of {@link ScheduleFreeWrapper}, as in the reference package's `ScheduleFreeWrapper`. */
export interface ScheduleFreeWrapperOptions {
  /** Interpolation β: y = β·x + (1−β)·z (default 0.9). */
  momentum: number;
  /** Weight decay computed at y and applied to z, scaled by the base's learning rate (default 0). */
  weightDecayAtY: number;
  /** Exponent r of the polynomial averaging weight `(k+1)^r` (default 0). */
  r: number;
  /** Exponent of the running max learning rate in the averaging weight (default 2). */
  weightLrPower: number;
}

const DEFAULTS: ScheduleFreeWrapperOptions = { momentum: 0.9, weightDecayAtY: 0, r: 0, weightLrPower: 2 };

const SCHEMA: OptionSchema<ScheduleFreeWrapperOptions> = {
  momentum: [
    inRange(0, 1, { lo: true, hi: true }),
    'β interpolates y between x and z; typical values are 0.9…0.98.',
  ],
  weightDecayAtY: [nonNegative, 'Pass a decay ≥ 0 (0 disables it).'],
  r: [nonNegative, 'Pass r ≥ 0 (0: uniform averaging).'],
  weightLrPower: [nonNegative, 'Pass a power ≥ 0 (default 2).'],
};

/**
 * The wrapper's state layout and mode switches as a core Algorithm. Its step is not an elementwise
 * program (the base optimizer is opaque), so {@link WrapperEngine} runs it instead of `planStep`.
 */
const wrapperAlgorithm: Algorithm<ScheduleFreeWrapperOptions> = Object.freeze({
  name: 'ScheduleFreeWrapper',
  kind: 'fused' as const,
  defaults: Object.freeze({ ...DEFAULTS }),
  validate: (options: Readonly<Record<string, unknown>>, where: string) =>
    validateOptions(where, SCHEMA, options),
  slots: () => [{ name: 'z', init: 'clone' as const }],
  initialCounters: () => ({ k: 0, lrMax: 0, weightSum: 0, scheduledLr: 0 }),
  planStep(): never {
    throw new Error('ScheduleFreeWrapper steps through its base optimizer, not a program');
  },
  moveTo: (o: ScheduleFreeWrapperOptions, target: 'x' | 'y') => ({
    program: lerpToZProgram,
    scalars: { w: target === 'x' ? 1 - 1 / o.momentum : 1 - o.momentum },
  }),
});

/** The learning rate a tfjs optimizer will use now, from its config. */
export function baseLearningRate(base: tf.Optimizer): number {
  const lr = (base.getConfig() as { learningRate?: unknown }).learningRate;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new ScheduleFreeError(
      'UNSUPPORTED',
      `ScheduleFreeWrapper: cannot read the learning rate of ${base.getClassName()}: its getConfig() has no learningRate ≥ 0 (got ${JSON.stringify(lr)}).`,
    );
  }
  return lr;
}

/**
 * The engine of the wrapper: the variables hold y; a step decays z at y, moves the variables to x
 * and swaps in z (pointer assignments, exact), lets the base optimizer step z with the gradient
 * taken at y, then averages: x ← lerp(x, z, c), y ← lerp(x, z, 1 − β).
 */
class WrapperEngine extends TfjsEngine<ScheduleFreeWrapperOptions> {
  base!: tf.Optimizer;

  protected override applyStep(grads: Readonly<Record<string, tf.Tensor>>): void {
    const o = this.paramGroups[0];
    const beta = o.momentum;
    if (!this.initialized[0]) this.initState(0);
    const entries = this.entries;
    const params = entries.map((e) => e.slots.param as tf.Variable);
    const before = params.map((p) => tf.keep(tf.clone(p)));
    let counters: Counters;
    try {
      tf.tidy(() => {
        const lr = baseLearningRate(this.base);
        const decay = lr * o.weightDecayAtY;
        const xs = entries.map((e, i) => {
          const y = params[i];
          const z = decay !== 0 ? tf.sub(e.slots.z, tf.mul(y, decay)) : e.slots.z;
          // Shrinking y as well keeps x = (y − (1−β)z)/β unchanged while z is decayed at y.
          const yDecayed = decay !== 0 ? tf.sub(y, tf.mul(y, decay * (1 - beta))) : y;
          const x = this.ops.lerp(yDecayed, z, 1 - 1 / beta);
          y.assign(z);
          return x;
        });
        // The base sees z in the variables and the gradient taken at y; its state is by position.
        this.base.applyGradients(entries.map((e) => ({ name: e.name, tensor: grads[e.name] })));
        const step = advanceSchedule(
          this.counters[0] as unknown as ScheduleCounters,
          baseLearningRate(this.base),
          o.r,
          o.weightLrPower,
        );
        counters = step.counters;
        entries.forEach((e, i) => {
          const z = params[i];
          const x = this.ops.lerp(xs[i], z, step.c);
          (e.slots.z as tf.Variable).assign(z);
          params[i].assign(this.ops.lerp(x, z, 1 - beta));
        });
      });
    } catch (error) {
      params.forEach((p, i) => {
        p.assign(before[i]);
      });
      throw error;
    } finally {
      tf.dispose(before);
    }
    this.counters[0] = counters!;
  }

  override stepFromYToX(grads: Readonly<Record<string, tf.Tensor>>, method: string): boolean {
    if (!this.checkGrads(grads, method)) return false;
    this.applyStep(grads);
    this.moveAll('x');
    return true;
  }
}

/** Options of {@link ScheduleFreeWrapper}: the wrapper's and the engine's (not parameter groups). */
export type ScheduleFreeWrapperInit = Partial<ScheduleFreeWrapperOptions> &
  Omit<TfjsEngineOptions, 'kernels'>;

/**
 * Makes any `tf.Optimizer` schedule-free (`tf.train.sgd`, `momentum`, `adam`, `adamax`, `rmsprop`,
 * `adagrad`, `adadelta`, or your own): the base optimizer steps z with the gradient taken at y, the
 * wrapper keeps the average x, and the variables hold y (train mode) or x (eval mode, the default),
 * exactly as the other Schedule-Free optimizers of this package. The base's learning rate (read
 * after each step) drives the averaging weights; warm it up or decay it on the base if you like.
 * Turn the base's own momentum off (β1 = 0 for Adam): the wrapper's interpolation replaces it.
 */
export class ScheduleFreeWrapper extends ScheduleFreeTfjsOptimizer<ScheduleFreeWrapperOptions> {
  static get className(): string {
    return 'ScheduleFreeWrapper';
  }

  /** The wrapped optimizer. */
  readonly base: tf.Optimizer;

  constructor(base: tf.Optimizer, options?: ScheduleFreeWrapperInit) {
    check(
      base instanceof tf.Optimizer && !(base instanceof ScheduleFreeTfjsOptimizer),
      'INVALID_OPTION',
      () =>
        'ScheduleFreeWrapper: the first argument must be a tf.Optimizer such as tf.train.adam(1e-3, 0, 0.999) (not a Schedule-Free optimizer).',
    );
    const given = (options ?? {}) as Record<string, unknown>;
    check(
      !('paramGroups' in given) && !('kernels' in given),
      'INVALID_OPTION',
      () => 'ScheduleFreeWrapper: options "paramGroups" and "kernels" are not supported by the wrapper.',
    );
    super(wrapperAlgorithm, options);
    baseLearningRate(base);
    this.base = base;
  }

  /**
   * Builds the wrapper (and its base) from {@link getConfig}'s output: `base` holds the base
   * optimizer's registered class name and config.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { customObjects: _c, base, ...options } = config as Record<string, unknown>;
    const spec = base as { className?: string; config?: tf.serialization.ConfigDict } | undefined;
    const entry = spec?.className
      ? tf.serialization.SerializationMap.getMap().classNameMap[spec.className]
      : undefined;
    if (!entry) {
      throw new ScheduleFreeError(
        'STATE_MISMATCH',
        `ScheduleFreeWrapper.fromConfig: unknown base optimizer ${JSON.stringify(spec?.className)}; register its class with tf.serialization.registerClass.`,
      );
    }
    const [baseCls, fromConfig] = entry;
    const baseOptimizer = fromConfig(baseCls, { ...(spec?.config ?? {}) }) as tf.Optimizer;
    return new cls(baseOptimizer, options);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { kernels: _kernels, ...config } = super.getConfig();
    return { ...config, base: { className: this.base.getClassName(), config: this.base.getConfig() } };
  }

  /** The base optimizer's learning rate. */
  override get learningRate(): number {
    return baseLearningRate(this.base);
  }

  /** Sets the base optimizer's learning rate (tfjs optimizers keep it in `learningRate`). */
  override setLearningRate(lr: number): void {
    this.ensureUsable('setLearningRate');
    check(
      typeof lr === 'number' && Number.isFinite(lr) && lr >= 0,
      'INVALID_OPTION',
      () => `ScheduleFreeWrapper.setLearningRate: the learning rate must be a finite number ≥ 0, got ${lr}.`,
    );
    const target = this.base as unknown as { setLearningRate?: (v: number) => void; learningRate?: number };
    if (typeof target.setLearningRate === 'function') target.setLearningRate(lr);
    else if (typeof target.learningRate === 'number') target.learningRate = lr;
    else {
      throw new ScheduleFreeError(
        'UNSUPPORTED',
        `ScheduleFreeWrapper.setLearningRate: ${this.base.getClassName()} has no learning rate to set.`,
      );
    }
  }

  protected override createEngine(
    groups: Array<{ params: Record<string, tf.Tensor> } & Partial<ScheduleFreeWrapperOptions>>,
    options: Partial<ScheduleFreeWrapperOptions>,
  ): TfjsEngine<ScheduleFreeWrapperOptions> {
    const engine = new WrapperEngine(this.algorithm, this.backend, groups, {
      ...options,
      nonFiniteGrads: this.parsed.engine.nonFiniteGrads,
    });
    engine.base = this.base;
    return engine;
  }

  protected override async extraWeights(): Promise<NamedTensor[]> {
    try {
      return await this.base.getWeights();
    } catch (error) {
      throw new ScheduleFreeError(
        'UNSUPPORTED',
        `ScheduleFreeWrapper.getWeights: the base optimizer ${this.base.getClassName()} cannot save its state (${(error as Error).message}). Save the model without includeOptimizer, or wrap a base that supports it.`,
      );
    }
  }

  protected override async restoreExtraWeights(extra: NamedTensor[]): Promise<void> {
    if (extra.length > 0) await this.base.setWeights(extra);
  }

  /** Frees the wrapper's state and the base optimizer's. */
  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    this.base.dispose();
  }
}

/** `new ScheduleFreeWrapper(base, options)`, in the style of `tf.train`. */
export const scheduleFreeWrapper = (base: tf.Optimizer, options?: ScheduleFreeWrapperInit) =>
  new ScheduleFreeWrapper(base, options);

tf.serialization.registerClass(
  ScheduleFreeWrapper as unknown as tf.serialization.SerializableConstructor<tf.Optimizer>,
);
