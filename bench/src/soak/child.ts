/**
 * Runs one soak backend in its own process (so that its RSS is its own) and writes the result as
 * JSON to the file named by the last argument: `child.ts NAME full|default STEPS|- RESULT_FILE`.
 */
import { writeFileSync } from 'node:fs';
import { soakBackends } from './backends/index.js';
import { BackendUnavailable } from './backends/types.js';
import type { BackendResult } from './report.js';

async function main(): Promise<void> {
  const [name, preset, stepsText, resultFile] = process.argv.slice(2);
  const start = performance.now();
  const result: BackendResult = { backend: name, status: 'ran', phases: [], wallMs: 0 };
  try {
    const load = soakBackends[name];
    if (!load) throw new Error(`unknown soak backend ${name}`);
    const backend = await load();
    result.summary = backend.summary;
    const counts = { ...backend.counts[preset === 'full' ? 'full' : 'default'] };
    if (stepsText !== '-') counts.steps = Number(stepsText);
    result.counts = counts;
    result.phases = await backend.run(counts, (line) => console.error(`   ${name} ${line}`));
  } catch (error) {
    result.status = error instanceof BackendUnavailable ? 'skipped' : 'error';
    result.message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    if (error instanceof BackendUnavailable) result.message = error.message;
  }
  result.wallMs = performance.now() - start;
  writeFileSync(resultFile, JSON.stringify(result));
}

main().then(
  // Runtimes such as onnxruntime-web keep worker handles open: leave once the result is written.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
