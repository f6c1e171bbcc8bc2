import { check } from '../errors.js';
import { runAsync, runSync, runSyncOrContinue, type Work } from './work.js';

/**
 * The one concurrency policy of every optimizer, synchronous or not:
 *
 * - asynchronous calls take effect one after another, in the order they were made;
 * - a synchronous call is refused while an asynchronous one is still running (it cannot wait);
 * - any call made from inside a user callback that the engine is running (a step's closure,
 *   `withEvalParams`' function) is refused: that callback must only compute.
 *
 * What a call depends on is captured when it is made (the engine's job), so un-awaited calls give
 * exactly the result of awaiting each in turn.
 */
export class Scheduler {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** The asynchronous call now running or waiting, for messages. */
  private running: string | null = null;
  /** Set while a user callback runs synchronously inside an operation. */
  private callback: string | null = null;

  constructor(private readonly owner: string) {}

  /** True when no asynchronous call is running or waiting. */
  get idle(): boolean {
    return this.pending === 0;
  }

  /** Refuses calls made from inside a callback the engine is running. */
  assertNotInCallback(method: string): void {
    check(
      this.callback === null,
      'UNSUPPORTED',
      () =>
        `${this.owner}.${method}() was called from inside the function passed to ${this.callback}; that function must only compute (gradients, or an evaluation). Call ${method}() after it has returned.`,
    );
  }

  /** Runs `fn` (a user callback) with calls on this optimizer refused while it runs synchronously. */
  guard<R>(during: string, fn: () => R): R {
    const outer = this.callback;
    this.callback = during;
    try {
      return fn();
    } finally {
      this.callback = outer;
    }
  }

  /**
   * Runs a synchronous call now. `needsAsync` explains what to do if the operation turns out to need
   * to wait (e.g. a read from a device that only reads asynchronously).
   */
  now<R>(method: string, work: () => Work<R>, needsAsync: () => string): R {
    this.assertNotInCallback(method);
    this.assertIdle(method);
    return runSync(work(), needsAsync);
  }

  /**
   * A synchronous call that may end asynchronously (a callback returned a promise): until it has,
   * the optimizer counts as busy, so other calls are refused rather than interleaved.
   */
  nowOrLater<R>(method: string, work: () => Work<R>): R | Promise<R> {
    this.assertNotInCallback(method);
    this.assertIdle(method);
    const result = runSyncOrContinue(work());
    if (!(result instanceof Promise)) return result;
    return this.track(method, result);
  }

  /**
   * An asynchronous call: `prepare` runs now (checks and captures; a throw rejects the promise at
   * once) and is told whether the work starts at once; `work` starts at once when nothing is pending
   * (so on a synchronous backend it has taken effect when the call returns), otherwise after every
   * earlier call has taken effect.
   */
  later<R>(method: string, prepare: (startsNow: boolean) => () => Work<R>): Promise<R> {
    let work: () => Work<R>;
    try {
      this.assertNotInCallback(method);
      work = prepare(this.pending === 0);
    } catch (error) {
      return Promise.reject(error);
    }
    const start = () => {
      this.running = method;
      return runAsync(work());
    };
    if (this.pending === 0) {
      this.pending++;
      return this.settleWith(start());
    }
    this.pending++;
    return this.settleWith(this.tail.then(start));
  }

  private track<R>(method: string, run: Promise<R>): Promise<R> {
    this.pending++;
    this.running ??= method;
    return this.settleWith(run);
  }

  /** Counts `run` as pending until it settles; later calls queue behind it. */
  private settleWith<R>(run: Promise<R>): Promise<R> {
    const settle = () => {
      this.pending--;
      if (this.pending === 0) this.running = null;
    };
    this.tail = run.then(settle, settle);
    return run;
  }

  private assertIdle(method: string): void {
    check(
      this.pending === 0,
      'UNSUPPORTED',
      () =>
        `${this.owner}.${method}() was called while ${this.running}() has not finished. Await it (or optimizer.ready()) first.`,
    );
  }

  /** Resolves once every call made so far has taken effect (rejections are not rethrown). */
  settled(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
