import type { Algorithm } from './algorithm.js';
import type { Backend } from './backend.js';
import {
  type ClosureResult,
  Engine,
  type EngineHints,
  type ParamGroup,
  type StepExtras,
} from './engine/engine.js';
import type { ParamsInput } from './inputs.js';
import { perParameter } from './optimizer.js';
import type { Mode, StateDict } from './state-dict.js';

/**
 * What every asynchronous optimizer object shares: a façade over the {@link Engine} for backends
 * whose work completes later (ONNX Runtime sessions, GPU kernels). Every call returns a promise and
 * takes effect after the calls made before it, with what it depends on (options, gradient contents)
 * captured when it is made: un-awaited calls give exactly the result of awaiting each in turn.
 */
export abstract class AsyncOptimizerBase<T, O extends object> {
  /** The engine doing the work (groups, state, modes, checks, call order). */
  protected readonly engine: Engine<T, O>;

  constructor(
    algorithm: Algorithm<O>,
    backend: Backend<T>,
    params: ParamsInput<T, O>,
    options?: unknown,
    hints?: EngineHints,
  ) {
    this.engine = new Engine({
      algorithm,
      backend,
      params,
      options,
      hints: {
        wrongMode:
          'With asynchronous optimizers: await optimizer.train() before training steps, await optimizer.eval() before evaluating or saving.',
        ...hints,
      },
    });
  }

  /** The algorithm (options, validation, schedule, programs) this optimizer runs. */
  get algorithm(): Algorithm<O> {
    return this.engine.algorithm;
  }

  /** Parameter groups; change `lr` (or other options) here between steps: a call uses the values it was made with. */
  get paramGroups(): ParamGroup<O>[] {
    return this.engine.paramGroups;
  }

  /** `'train'` when parameters hold y, `'eval'` when they hold x, as of the calls that have taken effect. */
  get mode(): Mode {
    return this.engine.mode;
  }

  /** Whether {@link dispose} has been called. */
  get isDisposed(): boolean {
    return this.engine.isDisposed;
  }

  /** A group's counters (as of the calls that have taken effect). */
  groupState(group = 0): Readonly<Record<string, number>> {
    return this.engine.groupState(group);
  }

  /** Resolves once every call made so far has taken effect. */
  ready(): Promise<void> {
    return this.engine.settled();
  }

  /**
   * The parameters at x as new tensors of the backend (one per parameter), owned by the caller, as
   * they are once the calls made before this one have taken effect. Adapters expose it in their
   * own terms (host arrays, library tensors).
   */
  protected evalParamTensors(): Promise<Record<string, T>> {
    return this.engine.later(this.engine.evalParams()).then((tensors) => perParameter(this.engine, tensors));
  }

  /** The full optimizer state as plain JSON, as it is once the calls made before this one have taken effect. */
  stateDict(): Promise<StateDict> {
    return this.engine.later(this.engine.stateDict());
  }

  /**
   * Restores a state produced by `stateDict()` of an optimizer of the same class on any backend
   * (matched by parameter name). A mismatch is a `STATE_MISMATCH` error that changes nothing.
   * Parameters are not part of the state: create the optimizer from the saved parameters.
   */
  loadStateDict(stateDict: StateDict): Promise<void> {
    return this.engine.later(this.engine.loadStateDict(stateDict));
  }

  /** Adds a parameter group (e.g. layers to unfreeze), taking effect after earlier calls. */
  addParamGroup(group: { params: Readonly<Record<string, T>> } & Partial<O>): Promise<void> {
    return this.engine.later(this.engine.addParamGroup(group));
  }

  /**
   * Releases everything the optimizer created. Calls made before it still take effect; any call made
   * after it throws `DISPOSED`.
   */
  dispose(): Promise<void> {
    return Promise.resolve(this.engine.dispose());
  }
}

/**
 * Asynchronous optimizers whose parameters hold y while training: `await train()` before stepping,
 * `await eval()` before evaluating or saving.
 */
export class AsyncScheduleFreeOptimizer<T, O extends object> extends AsyncOptimizerBase<T, O> {
  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): Promise<this> {
    return this.engine.later(this.engine.train()).then(() => this);
  }

  /** Switch to eval mode: parameters move to x. A no-op when already in eval mode. */
  eval(): Promise<this> {
    return this.engine.later(this.engine.eval()).then(() => this);
  }

  /**
   * One step with gradients taken at y, keyed by parameter name. Their contents are captured now:
   * refilling a host buffer afterwards does not change this step. Resolves to false if the step was
   * skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`). On an error nothing has changed.
   */
  step(grads: Readonly<Record<string, T | null>>, extras?: StepExtras): Promise<boolean> {
    return this.engine.later(this.engine.step(grads as Readonly<Record<string, T>>, extras));
  }

  /**
   * Runs `fn` with the parameters at x and puts them back exactly afterwards (also when it throws or
   * rejects). Calls on this optimizer from inside `fn` are refused; calls made meanwhile wait.
   */
  withEvalParams<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    return this.engine.later(this.engine.withEvalParams(fn)) as Promise<R>;
  }
}

/**
 * Asynchronous closure-driven optimizers: parameters hold x between steps; `step(closure)` moves
 * them to y, awaits the closure's gradients, updates, and leaves them at x.
 */
export class AsyncScheduleFreeClosureOptimizer<T, O extends object> extends AsyncOptimizerBase<T, O> {
  /**
   * One step. The closure runs while the parameters hold y and returns (or resolves to) the gradients
   * or `{ loss, grads }`; resolves to the loss, if any. Calls made while it runs wait for it; calls
   * made from inside it are refused. If it fails, returns bad gradients or sets invalid options,
   * the parameters are restored exactly and nothing else changes.
   */
  step(
    closure: () => ClosureResult<T | null> | PromiseLike<ClosureResult<T | null>>,
  ): Promise<number | undefined> {
    return this.engine.later(
      this.engine.closureStep(closure as () => ClosureResult<T> | PromiseLike<ClosureResult<T>>),
    );
  }
}
