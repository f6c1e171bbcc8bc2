import {
  type ClosureResult,
  check,
  type Engine,
  graphOf,
  isThenable,
  planFor,
  wait,
} from '@schedulefree/core';
import { type ExportedStep, exportStep } from './export.js';
import type { OrtTensor, TensorInput } from './runtime.js';
import type { OnnxContext } from './setup.js';
import { joinViews, perParameter } from './views.js';

/** What a closure passed to an ONNX closure optimizer's `step` gets and returns. */
export type OnnxClosure = (
  params: Record<string, OrtTensor>,
) => ClosureResult<TensorInput | null> | Promise<ClosureResult<TensorInput | null>>;

/** Where each parameter sits in its group's flat buffers, with its dimensions. */
export interface ParamLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly dims: readonly number[];
}

/**
 * The ONNX side of an optimizer object, shared by its classes: per-parameter tensors (`params()`,
 * `evalParams()`, a closure's view of y), flat buffers, exported steps, sessions. Every operation
 * goes through the engine, so it takes effect in call order with the others.
 */
export class OnnxParts<O extends object> {
  constructor(
    readonly engine: Engine<TensorInput, O>,
    readonly context: OnnxContext,
  ) {}

  /** The current parameters by name, owned by the optimizer (valid until its next change). */
  params(): Promise<Record<string, OrtTensor>> {
    return this.engine.later({
      method: 'params',
      prepare: () => {
        this.assertUsable('params');
        return () => wait(this.current());
      },
    });
  }

  /** The parameters at x as new tensors owned by the caller. */
  evalParams(): Promise<Record<string, OrtTensor>> {
    const op = this.engine.evalParams();
    return this.engine.later({
      method: op.method,
      prepare: (deferred) => {
        const work = op.prepare(deferred);
        const parts = this;
        return function* () {
          const flats = yield* work();
          const members = parts.engine.layout();
          return yield* wait(
            joinViews(members.map((m, i) => perParameter(parts.context, m, flats[i] as OrtTensor, true))),
          );
        };
      },
    });
  }

  /** A group's flat parameter tensor, owned by the optimizer. */
  flatParams(group: number): OrtTensor {
    this.assertUsable('flatParams');
    return this.member(group, 'flatParams').slots.param as OrtTensor;
  }

  /** A closure step whose closure receives the parameters at y. */
  closureStep(closure: OnnxClosure): Promise<number | undefined> {
    // Null gradients (frozen parameters) are the engine's to interpret.
    const atY = this.withCurrent(closure) as () =>
      | ClosureResult<TensorInput>
      | PromiseLike<ClosureResult<TensorInput>>;
    return this.engine.later(this.engine.closureStep(atY));
  }

  /** Runs `fn` with the parameters at x, which it receives, and puts them back exactly afterwards. */
  withEvalParams<R>(fn: (params: Record<string, OrtTensor>) => R | PromiseLike<R>): Promise<R> {
    return this.engine.later(this.engine.withEvalParams(this.withCurrent(fn))) as Promise<R>;
  }

  /** A group's next step as standalone models, with where each parameter sits. */
  exportStep(group: number): ExportedStep & { params: readonly ParamLayout[] } {
    this.assertUsable('exportStep');
    const member = this.member(group, 'exportStep');
    const { params: _names, ...options } = this.engine.paramGroups[group] as Record<string, unknown>;
    this.engine.algorithm.validate(options, `${this.engine.name}.exportStep`);
    const exported = exportStep(this.engine.algorithm, options as O, this.engine.groupState(group));
    return {
      ...exported,
      params: member.params.map(({ name, offset, size }) => ({
        name,
        offset,
        size,
        dims: this.context.dims.get(name)!,
      })),
    };
  }

  /** Creates the sessions the next step will use. */
  async compileNextSteps(): Promise<void> {
    const steps = this.engine.nextSteps();
    for (const member of this.engine.layout()) {
      const { program, scalars } = steps[member.group];
      await this.context.sessions.plan(planFor(graphOf(program), scalars), {
        length: member.size,
        gradParts: member.params.map((p) => p.size),
      });
    }
  }

  /** Releases the sessions (after the engine has released its tensors). */
  dispose(): Promise<void> {
    return this.context.sessions.dispose();
  }

  /** Every parameter's current tensor, per parameter (a promise only when device buffers are cut). */
  private current() {
    return joinViews(
      this.engine.layout().map((m) => perParameter(this.context, m, m.slots.param as OrtTensor, false)),
    );
  }

  /**
   * A callback for the engine that calls `fn` with the parameters as they are when it runs.
   * Anything but a function is passed on as is, for the engine to say what to pass.
   */
  private withCurrent<R>(
    fn: (params: Record<string, OrtTensor>) => R | PromiseLike<R>,
  ): () => R | PromiseLike<R> {
    if (typeof fn !== 'function') return fn;
    return () => {
      const views = this.current();
      return isThenable(views) ? (views.then(fn) as PromiseLike<R>) : fn(views);
    };
  }

  private member(group: number, method: string) {
    const members = this.engine.layout();
    const member = members.find((m) => m.group === group);
    check(
      Number.isInteger(group) && member !== undefined,
      'INVALID_OPTION',
      () =>
        `${this.engine.name}.${method}(${group}): there is no param group ${group}; groups are 0…${this.engine.paramGroups.length - 1}.`,
    );
    return member!;
  }

  private assertUsable(method: string): void {
    check(
      !this.engine.isDisposed,
      'DISPOSED',
      () => `${this.engine.name}.${method}() was called after dispose(). Create a new optimizer instead.`,
    );
  }
}
