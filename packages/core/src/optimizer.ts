import type { Algorithm } from './algorithm.js';
import type { Backend } from './backend.js';
import {
  type ClosureResult,
  Engine,
  type EngineHints,
  type ParamGroup,
  type StepExtras,
} from './engine/engine.js';
import { check } from './errors.js';
import type { ParamsInput } from './inputs.js';
import type { Mode, StateDict } from './state-dict.js';

export type { ClosureResult, EngineOptions, ParamGroup, StepExtras } from './engine/engine.js';

/**
 * What every synchronous optimizer object shares: a façade over the {@link Engine} for backends
 * whose work is done when a call returns (typed arrays, tfjs's cpu and wasm). Subclasses add the
 * stepping API of their kind.
 */
export abstract class OptimizerBase<T, O extends object> {
  /** The engine doing the work (groups, state, modes, checks). */
  protected readonly engine: Engine<T, O>;

  constructor(
    algorithm: Algorithm<O>,
    backend: Backend<T>,
    params: ParamsInput<T, O>,
    options?: unknown,
    hints?: EngineHints,
  ) {
    this.engine = new Engine({ algorithm, backend, params, options, hints });
  }

  /** The algorithm (options, validation, schedule, programs) this optimizer runs. */
  get algorithm(): Algorithm<O> {
    return this.engine.algorithm;
  }

  /** Parameter groups; change `lr` (or other options) here between steps. */
  get paramGroups(): ParamGroup<O>[] {
    return this.engine.paramGroups;
  }

  /** `'train'` when parameters hold y, `'eval'` when they hold x. Optimizers start in eval mode. */
  get mode(): Mode {
    return this.engine.mode;
  }

  /** The parameter tensors by name (the same objects that were passed in). */
  get params(): Readonly<Record<string, T>> {
    return this.engine.params;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.engine.isDisposed;
  }

  /** A group's counters: steps taken `k`, `lrMax`, `weightSum`, and the last `scheduledLr`. */
  groupState(group = 0): Readonly<Record<string, number>> {
    return this.engine.groupState(group);
  }

  /**
   * The parameters at x (the evaluation point) as new tensors owned by the caller, without changing
   * anything in the optimizer or the parameters.
   */
  evalParams(): Record<string, T> {
    const tensors = this.engine.now(this.engine.evalParams());
    return perParameter(this.engine, tensors);
  }

  /** The full optimizer state as plain JSON (survives `JSON.stringify`/`JSON.parse`). */
  stateDict(): StateDict {
    return this.engine.now(this.engine.stateDict());
  }

  /**
   * Restores a state produced by {@link stateDict} (possibly by an optimizer whose parameters were
   * listed in another order, or on another backend: state is matched by name). Checks everything
   * first: a state from another optimizer class, other parameter names or groups, other sizes or
   * slots is a `STATE_MISMATCH` error and changes nothing. Parameters themselves are not stored:
   * restore them alongside.
   */
  loadStateDict(stateDict: StateDict): void {
    this.engine.now(this.engine.loadStateDict(stateDict));
  }

  /**
   * Adds a parameter group (e.g. layers to unfreeze): options not given come from the constructor's.
   * Its state starts at its first step; `stateDict` saves it with the others.
   */
  addParamGroup(group: { params: Readonly<Record<string, T>> } & Partial<O>): void {
    this.engine.now(this.engine.addParamGroup(group));
  }

  /** Frees every buffer the optimizer created (not the parameters). Any later call throws `DISPOSED`. */
  dispose(): void {
    void this.engine.dispose();
  }
}

/**
 * One tensor per parameter from one per member (splitting flat members, whose parts are new tensors).
 */
export function perParameter<T, O extends object>(
  engine: Engine<T, O>,
  tensors: readonly T[],
): Record<string, T> {
  const { storage } = engine.backend;
  const out: Record<string, T> = {};
  engine.layout().forEach((m, i) => {
    if (m.params.length === 1) {
      out[m.params[0].name] = tensors[i];
      return;
    }
    check(
      typeof storage.split === 'function',
      'UNSUPPORTED',
      () =>
        `${engine.name}: ${engine.backend.name} keeps groups flat and cannot split them per parameter here.`,
    );
    const parts = storage.split(
      tensors[i],
      m.params.map((p) => p.size),
    );
    storage.dispose(tensors[i]);
    m.params.forEach((p, j) => {
      out[p.name] = parts[j];
    });
  });
  return out;
}

/**
 * Optimizers whose parameters hold y while training: `train()` before stepping, `eval()` before
 * evaluating or saving, `step(grads)` with gradients taken at the stored parameters.
 */
export class ScheduleFreeOptimizer<T, O extends object> extends OptimizerBase<T, O> {
  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): this {
    this.engine.now(this.engine.train());
    return this;
  }

  /** Switch to eval mode: parameters move to x. A no-op when already in eval mode. */
  eval(): this {
    this.engine.now(this.engine.eval());
    return this;
  }

  /**
   * One optimizer step with gradients (taken at the current parameters, i.e. at y) keyed by parameter
   * name; `null` for a parameter without a gradient this step (it is left unchanged). `extras.loss` is
   * the loss at y, which ScheduleFree+ needs. Returns false if the step was skipped for a non-finite
   * gradient (`nonFiniteGrads: 'skip'`).
   */
  step(grads: Readonly<Record<string, T | null>>, extras?: StepExtras): boolean {
    return this.engine.now(this.engine.step(grads as Readonly<Record<string, T>>, extras));
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when `fn` throws
   * or its promise rejects). In eval mode it simply calls `fn`. Calls on this optimizer from inside
   * `fn`, or while its promise is pending, are refused.
   */
  withEvalParams<R>(fn: () => R): R {
    return this.engine.nowOrLater(this.engine.withEvalParams(fn)) as R;
  }
}

/**
 * Closure-driven optimizers: parameters hold x between steps; `step(closure)` moves them to y, calls
 * the closure for gradients at y, updates, and leaves them at x.
 */
export class ScheduleFreeClosureOptimizer<T, O extends object> extends OptimizerBase<T, O> {
  /**
   * One step. The closure runs while the parameters hold y and returns the gradients (or
   * `{ loss, grads }`). Returns the loss, if the closure gave one. If the closure throws, returns bad
   * gradients or sets invalid options, parameters are restored exactly and nothing else changes.
   */
  step(closure: () => ClosureResult<T | null>): number | undefined {
    return this.engine.now(this.engine.closureStep(closure as () => ClosureResult<T>));
  }
}
