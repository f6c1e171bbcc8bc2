import { ScheduleFreeError } from '../errors.js';

/**
 * Engine operations are written once, as generators that `yield` whatever may be asynchronous (a
 * backend's run, a read, a finiteness check, the user's closure). Two drivers run them: the
 * synchronous one resumes at once with each value (and refuses a promise), the asynchronous one
 * awaits each. So one definition of `step` serves a `Float32Array` optimizer that returns when
 * done and an ONNX one that returns a promise.
 */
export type Work<R> = Generator<unknown, R, unknown>;

/** Suspends until `value` has settled (at once when it is not a promise); returns what it settled to. */
export function* wait<V>(value: V | PromiseLike<V>): Work<V> {
  return (yield value) as V;
}

/** Work that does `fn` without waiting for anything. */
export function* immediate<R>(fn: () => R): Work<R> {
  yield undefined;
  return fn();
}

/** Waits for several values together (a promise for any of them means waiting for all). */
export function* waitAll<V>(values: ReadonlyArray<V | PromiseLike<V>>): Work<V[]> {
  if (!values.some(isThenable)) return values as V[];
  return (yield Promise.all(values)) as V[];
}

/** True for a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Thrown by the synchronous driver when an operation needs to wait; carries the pending value. */
class NeedsAsync {
  constructor(readonly pending: PromiseLike<unknown>) {}
}

/**
 * Runs `work` to the end synchronously. At the first promise it abandons the operation (its
 * `finally` blocks run) and throws `UNSUPPORTED` with `message`; operations yield promises only
 * before they change anything, so nothing has changed then.
 */
export function runSync<R>(work: Work<R>, message: () => string): R {
  const result = driveSync(work);
  if (result instanceof NeedsAsync) {
    work.return(undefined as never);
    throw new ScheduleFreeError('UNSUPPORTED', message());
  }
  return result;
}

/**
 * Runs `work` synchronously as far as it goes; if it has to wait, continues asynchronously and
 * returns a promise of the result instead (the caller knows which operations may do that).
 */
export function runSyncOrContinue<R>(work: Work<R>): R | Promise<R> {
  const result = driveSync(work);
  if (!(result instanceof NeedsAsync)) return result;
  return continueAsync(work, result.pending);
}

function driveSync<R>(work: Work<R>): R | NeedsAsync {
  let step = work.next();
  while (!step.done) {
    if (isThenable(step.value)) return new NeedsAsync(step.value);
    step = work.next(step.value);
  }
  return step.value;
}

/** Runs `work` to the end, awaiting every promise it yields. */
export function runAsync<R>(work: Work<R>): Promise<R> {
  try {
    const step = work.next();
    if (step.done) return Promise.resolve(step.value);
    return continueAsync(work, step.value);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function continueAsync<R>(work: Work<R>, first: unknown): Promise<R> {
  let pending = first;
  for (;;) {
    let step: IteratorResult<unknown, R>;
    try {
      const value = isThenable(pending) ? await pending : pending;
      step = work.next(value);
    } catch (error) {
      // The awaited value rejected (or `next` threw, which `throw` rethrows at once).
      step = work.throw(error);
    }
    if (step.done) return step.value;
    pending = step.value;
  }
}
