// A worker thread of lib/pool.ts: loads the job module named in workerData (TypeScript, through
// tsx) and answers each { id, job } message with { id, result } or { id, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const jobs = await tsImport(workerData.entry, import.meta.url);
parentPort.on('message', async ({ id, job }) => {
  try {
    parentPort.postMessage({ id, result: await jobs.handle(job) });
  } catch (error) {
    parentPort.postMessage({
      id,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
parentPort.postMessage({ ready: true });
