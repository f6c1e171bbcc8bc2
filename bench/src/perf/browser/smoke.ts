/**
 * `pnpm bench:smoke:browser`: the browser perf harness at a tiny size on the five browser backends
 * in headless Chromium, as CI runs it. Checks the shape of what comes back, never a time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserBackendName } from './options.js';
import type { BrowserPerfFile } from './results.js';
import { runBrowserPerf } from './run.js';
import { smokeProblems } from './smoke-checks.js';

const backends: BrowserBackendName[] = [
  'tfjs-webgl',
  'tfjs-webgpu',
  'onnx-webgpu',
  'onnx-wasm',
  'gpujs-webgl',
];
const size = 1000;

const dir = mkdtempSync(join(tmpdir(), 'sf-browser-smoke-'));
try {
  const json = join(dir, 'browser-perf.json');
  await runBrowserPerf({
    backends,
    optimizer: 'AdamWScheduleFree',
    sizes: [size],
    steps: 3,
    countSteps: 2,
    json,
    timeoutMs: 120_000,
  });
  const problems = smokeProblems(JSON.parse(readFileSync(json, 'utf8')) as BrowserPerfFile, backends, size);
  if (problems.length) {
    console.error(`browser perf smoke: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(
      `browser perf smoke: ${backends.length} backends ran in Chromium at n=${size}, results well formed`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
