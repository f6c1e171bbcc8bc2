/**
 * What the browser smoke run checks in its JSON: every backend ran, on the kind of device it names,
 * with finite times, a ratio, an adapter and the counts that apply to it. No timing thresholds.
 */
import type { BrowserBackendName } from './options.js';
import type { BrowserPerfFile, StepCounts } from './results.js';

/** The device API each backend must report. */
export const expectedApi: Record<BrowserBackendName, 'webgl' | 'webgpu' | 'cpu'> = {
  'tfjs-webgl': 'webgl',
  'tfjs-webgpu': 'webgpu',
  'onnx-webgpu': 'webgpu',
  'onnx-wasm': 'cpu',
  'gpujs-webgl': 'webgl',
  'gpujs-webgl2': 'webgl',
};

function countProblems(
  where: string,
  api: 'webgl' | 'webgpu' | 'cpu',
  tfjs: boolean,
  c: StepCounts,
): string[] {
  const problems: string[] = [];
  const need = (key: keyof StepCounts, present: boolean) => {
    const v = c[key];
    if (present && (v === null || !Number.isFinite(v)))
      problems.push(`${where}: ${key} should be counted, got ${v}`);
    if (!present && v !== null) problems.push(`${where}: ${key} does not apply here, got ${v}`);
  };
  need('texturesCreated', api === 'webgl');
  need('gpuBuffersCreated', api === 'webgpu');
  need('readBacks', api !== 'cpu');
  need('numTensors', tfjs);
  need('bytesInGPU', tfjs);
  if (!(c.issueMsPerStep >= 0) || !(c.drainMs >= 0)) problems.push(`${where}: issue/drain times missing`);
  return problems;
}

/** Every problem found in a smoke run's file; empty when it passes. */
export function smokeProblems(
  file: BrowserPerfFile,
  backends: readonly BrowserBackendName[],
  size: number,
): string[] {
  const problems: string[] = [];
  if (file.kind !== 'browser-perf') problems.push(`kind is ${file.kind}`);
  if (!file.chromium.version || !file.chromium.userAgent)
    problems.push('Chromium version or user agent missing');
  for (const f of file.failures ?? []) problems.push(`${f.backend}: failed: ${f.error}`);
  for (const backend of backends) {
    const rows = file.results.filter((r) => r.backend === backend);
    if (rows.length !== 1) {
      problems.push(`${backend}: expected one result, got ${rows.length}`);
      continue;
    }
    const r = rows[0];
    const api = expectedApi[backend];
    if (r.size !== size) problems.push(`${backend}: size ${r.size}, asked for ${size}`);
    for (const run of [r.subject, r.baseline]) {
      if (!(run.medianStepMs > 0 && Number.isFinite(run.medianStepMs))) {
        problems.push(`${backend}: ${run.name} median ${run.medianStepMs} ms`);
      }
      if (run.stepTimesMs.length !== r.steps) {
        problems.push(
          `${backend}: ${run.name} has ${run.stepTimesMs.length} step times, expected ${r.steps}`,
        );
      }
      problems.push(...countProblems(`${backend} ${run.name}`, api, backend.startsWith('tfjs'), run.counts));
    }
    if (!(r.ratio > 0 && Number.isFinite(r.ratio))) problems.push(`${backend}: ratio ${r.ratio}`);
    if (r.adapter.api !== api) problems.push(`${backend}: ran on ${r.adapter.api}, expected ${api}`);
    if (!r.adapter.renderer) problems.push(`${backend}: the adapter has no name`);
    if (!r.sync) problems.push(`${backend}: no synchronisation recorded`);
    if (!(r.floatsMovedPerParam > 0))
      problems.push(`${backend}: floatsMovedPerParam ${r.floatsMovedPerParam}`);
  }
  return problems;
}
