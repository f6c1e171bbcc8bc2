/** Process memory after a forced full garbage collection, so that what remains is what is held. */
import v8 from 'node:v8';
import vm from 'node:vm';

export interface MemoryReading {
  /** Resident set size of the whole process (JS heap, native allocations, WebAssembly memories). */
  rss: number;
  /** V8 heap in use after the collection. */
  heapUsed: number;
  /** V8 heap committed (not judged: it explains RSS, which follows it). */
  heapTotal: number;
  /** Memory of C++ objects bound to JS objects, ArrayBuffers included. */
  external: number;
  /** ArrayBuffer and SharedArrayBuffer backing stores (typed arrays, copies made by runtimes). */
  arrayBuffers: number;
}

let collect: (() => void) | undefined;

/**
 * V8's `gc()` without starting Node with `--expose-gc` (tsx starts the process for us): the flag
 * set at run time takes effect for contexts created afterwards, so a new context hands out `gc`.
 */
function collector(): () => void {
  if (!collect) {
    v8.setFlagsFromString('--expose_gc');
    collect = vm.runInNewContext('gc') as () => void;
    if (typeof collect !== 'function')
      throw new Error('could not obtain V8 gc() (--expose_gc had no effect)');
  }
  return collect;
}

/**
 * Two full collections with a turn of the event loop between them, so that finalizers and the
 * weak callbacks that free external memory (ArrayBuffer backing stores) have run.
 */
export async function collectGarbage(): Promise<void> {
  const gc = collector();
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

export async function readMemory(): Promise<MemoryReading> {
  await collectGarbage();
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
}
