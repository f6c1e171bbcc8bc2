import {
  type Algorithm,
  advanceSchedule,
  check,
  composePrograms,
  defineProgram,
  initialCounters,
  lerpToZProgram,
  type Operation,
  optionsObject,
  type ScheduleCounters,
  ScheduleFreeError,
  validateOptions,
} from '@schedulefree/core';
import { type ScheduleFreeWrapperOptions, wrapperDefaults, wrapperSchema } from '@schedulefree/wrapper';
import * as tf from '@tensorflow/tfjs';
import type { GroupRunner } from './backend.js';
import { TfjsOps } from './ops.js';
import { ScheduleFreeTfjsOptimizer } from './optimizer.js';
import type { TfjsEngineOptions } from './options.js';
import type { NamedTensor } from './saving.js';

export type { ScheduleFreeWrapperOptions } from '@schedulefree/wrapper';

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

function setBaseLearningRate(base: tf.Optimizer, lr: number): void {
  const target = base as unknown as { setLearningRate?: (v: number) => void; learningRate?: number };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(lr);
  else if (typeof target.learningRate === 'number') target.learningRate = lr;
  else {
    throw new ScheduleFreeError(
      'UNSUPPORTED',
      `ScheduleFreeWrapper.setLearningRate: ${base.getClassName()} has no learning rate to set.`,
    );
  }
}

const SCHEDULE = ['k', 'lrMax', 'weightSum', 'scheduledLr'] as const;

/**
 * The wrapper's step as the engine sees it: the slots it reads and writes, and, as scalars, the
 * options and counters it was planned with. It is not an elementwise program (the base optimizer is
 * opaque); the backend hands it to {@link wrapperRunner}. Its body only declares the slots.
 */
const wrapperStep = /* @__PURE__ */ defineProgram({
  key: 'sf-tfjs-wrapper-step',
  inputs: ['param', 'grad', 'z'],
  scalars: ['momentum', 'weightDecayAtY', 'r', 'weightLrPower', 'k', 'lrMax', 'weightSum', 'scheduledLr'],
  outputs: ['param', 'z'],
  body: (_ops, t) => ({ param: t.param, z: t.z }),
});

/** The eval-mode step: the wrapper's step, then the move to x (`composeRuns` in the engine). */
const wrapperStepToX = /* @__PURE__ */ composePrograms(wrapperStep, lerpToZProgram);

/**
 * The wrapper's options, state layout and mode switches as a core Algorithm over the base
 * optimizer. The averaging weight uses the base's learning rate after its step, so the counters of
 * a planned step are computed when the engine commits them, right after the run.
 */
function wrapperAlgorithm(base: tf.Optimizer): Algorithm<ScheduleFreeWrapperOptions> {
  return Object.freeze({
    name: 'ScheduleFreeWrapper',
    kind: 'fused' as const,
    defaults: wrapperDefaults,
    validate: (options: Readonly<Record<string, unknown>>, where: string) =>
      validateOptions(where, wrapperSchema(false), options),
    slots: () => [{ name: 'z', init: 'clone' as const }],
    initialCounters: () => ({ ...initialCounters }),
    planStep: (o: ScheduleFreeWrapperOptions, counters: Readonly<Record<string, number>>) => ({
      program: wrapperStep,
      scalars: { ...o, ...counters },
      get counters() {
        return advanceSchedule(counters as ScheduleCounters, baseLearningRate(base), o.r, o.weightLrPower)
          .counters;
      },
    }),
    moveTo: (o: ScheduleFreeWrapperOptions, target: 'x' | 'y') => ({
      program: lerpToZProgram,
      scalars: { w: target === 'x' ? 1 - 1 / o.momentum : 1 - o.momentum },
    }),
  });
}

// Module-level values are marked pure so that bundlers leave the wrapper out when it is not used.
const ops = /* @__PURE__ */ new TfjsOps();

/**
 * Runs the wrapper's step over a group: decays z at y, moves the variables to x and swaps in z
 * (pointer assignments, exact), lets the base optimizer step z with the gradient taken at y, then
 * averages: x ← lerp(x, z, c), y ← lerp(x, z, 1 − β); in eval mode the variables then move to x.
 * On an error the variables are put back as they were.
 */
function wrapperRunner(base: tf.Optimizer): GroupRunner {
  return ({ program, scalars: s, members }, run) => {
    if (program !== wrapperStep && program !== wrapperStepToX) return false;
    const beta = s.momentum;
    const ys = members.map((m) => m.slots.param as tf.Variable);
    const backups = ys.map((y) => tf.keep(tf.clone(y)));
    try {
      const decay = baseLearningRate(base) * s.weightDecayAtY;
      const xs = members.map(({ slots }, i) => {
        const y = ys[i];
        const z = decay !== 0 ? tf.sub(slots.z, tf.mul(y, decay)) : slots.z;
        // Shrinking y as well keeps x = (y − (1−β)z)/β unchanged while z is decayed at y.
        const yDecayed = decay !== 0 ? tf.sub(y, tf.mul(y, decay * (1 - beta))) : y;
        const x = ops.lerp(yDecayed, z, 1 - 1 / beta);
        y.assign(z);
        return x;
      });
      // The base sees z in the variables and the gradient taken at y; its state is by position.
      base.applyGradients(members.map(({ slots }, i) => ({ name: ys[i].name, tensor: slots.grad })));
      const counters = Object.fromEntries(SCHEDULE.map((k) => [k, s[k]])) as unknown as ScheduleCounters;
      const { c } = advanceSchedule(counters, baseLearningRate(base), s.r, s.weightLrPower);
      members.forEach(({ slots }, i) => {
        const z = ys[i]; // holds the base's step of z
        const x = ops.lerp(xs[i], z, c);
        (slots.z as tf.Variable).assign(z);
        ys[i].assign(ops.lerp(x, z, 1 - beta));
        if (program === wrapperStepToX) run(lerpToZProgram, slots, { w: 1 - 1 / beta });
      });
    } catch (error) {
      ys.forEach((y, i) => {
        y.assign(backups[i]);
      });
      throw error;
    } finally {
      tf.dispose(backups);
    }
    return true;
  };
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
 * Options and defaults are those of `@schedulefree/wrapper`'s wrapper.
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
    const given = optionsObject(options, 'ScheduleFreeWrapper');
    check(
      !('paramGroups' in given) && !('kernels' in given),
      'INVALID_OPTION',
      () => 'ScheduleFreeWrapper: options "paramGroups" and "kernels" are not supported by the wrapper.',
    );
    super(wrapperAlgorithm(base), options);
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
    setBaseLearningRate(this.base, lr);
  }

  /**
   * A step uses the base's learning rate of the moment it is called, also when it takes effect
   * later (asynchronous calls); afterwards the base keeps the rate set since, unless its own step
   * changed it.
   */
  protected override stepOperation<R>(op: Operation<R>): Operation<R> {
    const base = this.base;
    return {
      method: op.method,
      prepare: (deferred) => {
        const lr = baseLearningRate(base);
        const work = op.prepare(deferred);
        return function* () {
          const current = baseLearningRate(base);
          if (current !== lr) setBaseLearningRate(base, lr);
          try {
            return yield* work();
          } finally {
            if (current !== lr && baseLearningRate(base) === lr) setBaseLearningRate(base, current);
          }
        };
      },
    };
  }

  protected override groupRunner(): GroupRunner {
    return wrapperRunner(this.base);
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

  /** Frees the base optimizer's state with the wrapper's. */
  protected override released(): void {
    this.base.dispose();
  }
}

/** `new ScheduleFreeWrapper(base, options)`, in the style of `tf.train`. */
export const scheduleFreeWrapper = (base: tf.Optimizer, options?: ScheduleFreeWrapperInit) =>
  new ScheduleFreeWrapper(base, options);
