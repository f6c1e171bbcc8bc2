import { writeFileSync } from 'node:fs';
import { corePerfBackends, type PerfBackend } from './backends.js';
import { copyBandwidth, medianMs } from './measure.js';

/** One line of the perf JSON (shared by every backend). */
export interface PerfResult {
  backend: string;
  optimizer: string;
  size: number;
  medianStepMs: number;
  /** Time to move the step's bytes at the bandwidth of a plain Float32Array copy measured in this run. */
  floorMs: number;
  /** floorMs / medianStepMs: 1 means the step runs at copy speed. */
  fractionOfFloor: number;
  bytesPerParam: number;
  copyGBps: number;
  baseline?: string;
  baselineMedianStepMs?: number;
  steps: number;
}

/** Perf backends of the adapters by name prefix, loaded lazily so one adapter's peer is not needed by another. */
const adapterBackendModules: Record<string, () => Promise<PerfBackend[]>> = {
  tfjs: async () => (await import('./tfjs.js')).perfBackends,
  onnx: async () => (await import('./onnx.js')).perfBackends,
  gpujs: async () => (await import('./gpujs.js')).perfBackends,
};

async function findBackend(name: string): Promise<PerfBackend> {
  const builtIn = corePerfBackends.find((b) => b.name === name);
  if (builtIn) return builtIn;
  const load = adapterBackendModules[name.split('-')[0]];
  const found = load ? (await load()).find((b) => b.name === name) : undefined;
  if (!found) {
    const known = [
      ...corePerfBackends.map((b) => b.name),
      ...Object.keys(adapterBackendModules).map((p) => `${p}-*`),
    ];
    throw new Error(`unknown perf backend "${name}"; known: ${known.join(', ')}`);
  }
  return found;
}

export interface PerfArgs {
  backend: string;
  optimizer: string;
  sizes: number[];
  steps: number;
  json?: string;
}

/** Measures each size and writes `{ results: [...] }`. */
export async function runPerf(args: PerfArgs): Promise<PerfResult[]> {
  const backend = await findBackend(args.backend);
  const results: PerfResult[] = [];
  for (const size of args.sizes) {
    const subject = await backend.setup(args.optimizer, size);
    try {
      const medianStepMs = await medianMs(() => subject.step(), args.steps);
      const baselineMedianStepMs = subject.baseline
        ? await medianMs(() => subject.baseline!.step(), args.steps)
        : undefined;
      const { bytesPerMs } = await copyBandwidth(size, Math.max(args.steps, 10));
      const bytesPerParam = 4 * subject.floatsMovedPerParam;
      const floorMs = (bytesPerParam * size) / bytesPerMs;
      const result: PerfResult = {
        backend: backend.name,
        optimizer: args.optimizer,
        size,
        medianStepMs,
        floorMs,
        fractionOfFloor: floorMs / medianStepMs,
        bytesPerParam,
        copyGBps: bytesPerMs / 1e6,
        ...(subject.baseline ? { baseline: subject.baseline.name, baselineMedianStepMs } : {}),
        steps: args.steps,
      };
      results.push(result);
      const base = result.baseline ? `, ${result.baseline} ${baselineMedianStepMs!.toFixed(2)} ms` : '';
      console.log(
        `${backend.name} ${args.optimizer} n=${size}: ${medianStepMs.toFixed(2)} ms/step, floor ${floorMs.toFixed(2)} ms (${(100 * result.fractionOfFloor).toFixed(0)}% of copy speed)${base}`,
      );
    } finally {
      await subject.dispose();
    }
  }
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ results }, null, 2)}\n`);
  return results;
}
