/**
 * Runs independent jobs (one training run each) on worker threads, one job per thread at a time,
 * so a grid search uses every core; with one worker it runs them in this thread instead. Results
 * come back in the order of the jobs, whatever order they finish in.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface WorkerPool<J, R> {
  /** Number of threads (1: jobs run in the calling thread). */
  readonly size: number;
  /** Runs the jobs; `onResult` is called as each one finishes. */
  run(jobs: readonly J[], onResult?: (index: number, result: R) => void): Promise<R[]>;
  /** Stops the threads. */
  close(): Promise<void>;
}

/** The default number of workers: one per core this process may use. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
}

/**
 * A pool whose threads each import `entry` (a module exporting `handle(job)`) and run jobs with it;
 * `inThread` is the same handler, used when `size` ≤ 1. Jobs and results cross threads by
 * structured cloning (plain objects and typed arrays).
 */
export function workerPool<J, R>(
  entry: URL,
  size: number,
  inThread: (job: J) => Promise<R>,
): WorkerPool<J, R> {
  const slots: Slot[] = [];
  let nextId = 0;
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();

  const spawn = (): Slot => {
    const worker = new Worker(new URL('./pool-worker.mjs', import.meta.url), {
      workerData: { entry: entry.href },
    });
    let markReady: () => void = () => {};
    const slot: Slot = { worker, ready: new Promise<void>((r) => (markReady = r)) };
    worker.on('message', (message: { ready?: boolean; id?: number; result?: R; error?: string }) => {
      if (message.ready) return markReady();
      const waiting = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.error !== undefined) waiting?.reject(new Error(`worker job failed: ${message.error}`));
      else waiting?.resolve(message.result as R);
    });
    worker.on('error', (error) => {
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    });
    return slot;
  };

  const runOn = async (slot: Slot, job: J): Promise<R> => {
    await slot.ready;
    const id = nextId++;
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job });
    });
  };

  return {
    size: Math.max(1, size),
    async run(jobs, onResult) {
      const results = new Array<R>(jobs.length);
      if (size <= 1) {
        for (let i = 0; i < jobs.length; i++) {
          results[i] = await inThread(jobs[i]);
          onResult?.(i, results[i]);
        }
        return results;
      }
      while (slots.length < Math.min(size, jobs.length)) slots.push(spawn());
      let next = 0;
      const drain = async (slot: Slot) => {
        while (next < jobs.length) {
          const i = next++;
          results[i] = await runOn(slot, jobs[i]);
          onResult?.(i, results[i]);
        }
      };
      await Promise.all(slots.map(drain));
      return results;
    },
    async close() {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      slots.length = 0;
    },
  };
}
