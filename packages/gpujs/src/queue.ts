/** Something that may be a promise: what a gpu.js kernel call returns in one mode or another. */
export type MaybePromise<T> = T | Promise<T>;

/** True for a promise or any other thenable. */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Runs GPU work strictly in order. Synchronous work (cpu, webasm and WebGL kernels) runs at once, so
 * errors are thrown to the caller as usual. Work that returns a promise (WebGPU kernels, kernels
 * created with `asyncMode`, and every kernel if gpu.js makes calls asynchronous) holds back later
 * work until it settles. A failure of asynchronous work is sticky: the tensors it was writing are
 * in an unknown state, so every later operation reports it.
 */
export class WorkQueue {
  private tail: Promise<void> | null = null;
  private failure: { error: unknown } | null = null;

  /** True once asynchronous work has failed. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** True when no asynchronous work is pending. */
  get idle(): boolean {
    return this.tail === null;
  }

  /** Runs `task` now if nothing is pending, otherwise after the pending work. */
  run(task: () => MaybePromise<void>): void {
    this.throwIfFailed();
    if (this.tail === null) {
      const result = task();
      if (isPromiseLike<void>(result)) this.track(Promise.resolve(result));
      return;
    }
    this.track(
      this.tail.then(() => {
        this.throwIfFailed();
        return task();
      }),
    );
  }

  /** Resolves once all work scheduled so far has finished; rejects with the first failure. */
  async flush(): Promise<void> {
    while (this.tail !== null) await this.tail;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private track(work: Promise<void>): void {
    const tail: Promise<void> = work.then(
      () => {
        if (this.tail === tail) this.tail = null;
      },
      (error: unknown) => {
        this.failure ??= { error };
        if (this.tail === tail) this.tail = null;
      },
    );
    this.tail = tail;
  }
}
