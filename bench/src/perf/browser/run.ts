/** `pnpm bench perf --browser`: runs the requested measurements in Chromium, prints the table, writes the JSON. */
import { writeFileSync } from 'node:fs';
import { launchBrowser } from './launch.js';
import {
  type BrowserBackendName,
  checkRequest,
  chromiumArgs,
  chromiumPath,
  envChromiumArgs,
  type PageRequest,
} from './options.js';
import {
  type BrowserPerfFile,
  type BrowserPerfResult,
  browserPerfTable,
  softwareWarning,
  withRatio,
} from './results.js';

export interface BrowserPerfArgs {
  backends: string[];
  optimizer: string;
  sizes: number[];
  steps: number;
  countSteps?: number;
  json?: string;
  /** Flags from --chromium-flag (CHROMIUM_ARGS is added to them). */
  chromiumFlags?: string[];
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** The requests of a run: every backend at every size, checked before Chromium starts. */
export function browserRequests(args: BrowserPerfArgs): PageRequest[] {
  const requests = args.backends.flatMap((backend) =>
    args.sizes.map((size) => ({
      backend: backend as BrowserBackendName,
      optimizer: args.optimizer,
      size,
      steps: args.steps,
      countSteps: args.countSteps ?? Math.min(args.steps, 5),
    })),
  );
  for (const r of requests) checkRequest(r);
  return requests;
}

export async function runBrowserPerf(args: BrowserPerfArgs): Promise<BrowserPerfFile> {
  const log = args.log ?? ((line: string) => console.log(line));
  const env = args.env ?? process.env;
  const requests = browserRequests(args);
  const session = await launchBrowser({
    executable: chromiumPath(env),
    args: chromiumArgs([...envChromiumArgs(env), ...(args.chromiumFlags ?? [])]),
    timeoutMs: args.timeoutMs ?? 600_000,
  });
  const results: BrowserPerfResult[] = [];
  const failures: BrowserPerfFile['failures'] = [];
  try {
    for (const request of requests) {
      let result: BrowserPerfResult;
      try {
        result = withRatio(await session.run(request));
      } catch (error) {
        // One backend failing (no WebGL under the given flags, say) does not stop the others.
        const message = error instanceof Error ? error.message : String(error);
        failures.push({ backend: request.backend, size: request.size, error: message });
        log(`${request.backend} n=${request.size} FAILED: ${message}`);
        continue;
      }
      results.push(result);
      log(
        `${result.backend} ${result.optimizer} n=${result.size}: ${result.subject.medianStepMs.toFixed(2)} ms/step, ${result.baseline.name} ${result.baseline.medianStepMs.toFixed(2)} ms (${result.ratio.toFixed(2)}x)`,
      );
    }
    const file: BrowserPerfFile = { kind: 'browser-perf', chromium: await session.info(), results, failures };
    log(`\n${browserPerfTable(results)}`);
    log(
      `Counts are Schedule-Free / baseline per step, over ${requests[0]?.countSteps} untimed steps after warm-up.`,
    );
    const warning = softwareWarning(results);
    if (warning) log(warning);
    if (args.json) writeFileSync(args.json, `${JSON.stringify(file, null, 2)}\n`);
    if (failures.length) {
      log(
        `${failures.length} of ${requests.length} measurements failed (Chromium flags: ${file.chromium.args.join(' ')}).`,
      );
      process.exitCode = 1;
    }
    return file;
  } finally {
    await session.close();
  }
}
