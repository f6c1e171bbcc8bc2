/**
 * `pnpm bench soak`: long training loops through the adapters' public APIs, one child process per
 * backend, with memory and exact resource counters sampled at intervals; fails when any grows after
 * warm-up.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from '../lib/io.js';
import { soakBackends } from './backends/index.js';
import { type BackendResult, backendReport, failureLines } from './report.js';

export const SOAK_USAGE = `  soak [--backend NAME]... [--steps N] [--full] [--json FILE]
      Long training loops through each adapter's public API, one process per backend: RSS, V8 heap
      after a forced GC and exact counters (tfjs numTensors/numBytes, live ONNX sessions, gpu.js
      kernels) sampled at 20 intervals; exits 1 if any grows after warm-up (the first 10%).
      Backends (default: all; onnx-node is skipped when it cannot be imported):
      ${Object.keys(soakBackends).join(', ')}.
      Default counts are the issue's: tfjs 10,000 applyGradients + 20 fits, onnx 200 create/dispose
      cycles + 5,000 steps, gpu.js 10,000 steps + 200 cycles; core 20,000 steps + 200 cycles (about
      3 minutes in all on 2 cores). --full: core 100,000 steps + 1,000 cycles too (about 6 minutes).
      --steps N: the training-loop steps of every backend. --json FILE: every sample, unrounded.`;

export interface SoakOptions {
  backends: string[];
  steps?: number;
  full: boolean;
  json?: string;
}

export function parseSoakArgs(args: string[], cwd: string): SoakOptions {
  const { values } = parseArgs({
    args,
    options: {
      backend: { type: 'string', multiple: true },
      steps: { type: 'string' },
      full: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const names = Object.keys(soakBackends);
  const backends = values.backend?.length ? values.backend : names;
  for (const b of backends) {
    if (!names.includes(b))
      throw new Error(`--backend: unknown soak backend "${b}"; use one of ${names.join(', ')}`);
  }
  let steps: number | undefined;
  if (values.steps !== undefined) {
    steps = Number(values.steps);
    if (!Number.isInteger(steps) || steps < 20) {
      throw new Error(
        `--steps: expected a whole number ≥ 20 (one per sampling interval), got "${values.steps}"`,
      );
    }
  }
  return {
    backends,
    steps,
    full: values.full,
    json: values.json ? resolve(cwd, values.json) : undefined,
  };
}

const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));

/**
 * A young generation of fixed size: V8 otherwise doubles it when a loop allocates fast, which moves
 * RSS up by tens of MiB at an unpredictable step without anything being kept.
 */
const CHILD_V8_FLAGS = (process.env.SOAK_V8_FLAGS ?? '--min-semi-space-size=16 --max-semi-space-size=16')
  .split(' ')
  .filter(Boolean);

/** Runs one backend in a child process (same Node flags, so tsx's loader too) and reads its result. */
async function runChild(name: string, options: SoakOptions, dir: string): Promise<BackendResult> {
  const resultFile = join(dir, `${name}.json`);
  const args = [
    ...process.execArgv,
    ...CHILD_V8_FLAGS,
    childScript,
    name,
    options.full ? 'full' : 'default',
    options.steps === undefined ? '-' : String(options.steps),
    resultFile,
  ];
  const start = performance.now();
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', fail);
    child.on('exit', (exitCode, signal) => done(signal ? 128 : exitCode));
  });
  try {
    return JSON.parse(readFileSync(resultFile, 'utf8')) as BackendResult;
  } catch {
    return {
      backend: name,
      status: 'error',
      message: `the child process exited with code ${code} without writing a result`,
      phases: [],
      wallMs: performance.now() - start,
    };
  }
}

export async function runSoakCommand(args: string[], cwd: string): Promise<void> {
  const options = parseSoakArgs(args, cwd);
  const explicit = args.includes('--backend') || args.some((a) => a.startsWith('--backend='));
  const dir = mkdtempSync(join(tmpdir(), 'schedulefree-soak-'));
  const results: BackendResult[] = [];
  const failures: string[] = [];
  try {
    for (const name of options.backends) {
      console.error(`soak ${name}${options.full ? ' (full counts)' : ''} …`);
      const result = await runChild(name, options, dir);
      results.push(result);
      console.log(backendReport(result));
      console.log('');
      failures.push(...failureLines(result));
      if (result.status === 'skipped' && explicit)
        failures.push(`${name}: asked for but skipped: ${result.message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ran = results.filter((r) => r.status === 'ran').map((r) => r.backend);
  const skipped = results.filter((r) => r.status === 'skipped').map((r) => r.backend);
  if (options.json) {
    // Written unrounded (unlike the experiments' JSON): byte counters must stay exact.
    const report = {
      command: 'soak',
      machine: machineInfo(),
      options: { ...options, json: undefined },
      pass: failures.length === 0,
      failures,
      results,
    };
    mkdirSync(dirname(options.json), { recursive: true });
    writeFileSync(options.json, `${JSON.stringify(report, null, 1)}\n`);
    console.log(`samples written to ${options.json}`);
  }
  const tail = skipped.length ? `; skipped: ${skipped.join(', ')}` : '';
  if (failures.length) {
    console.error(`soak FAILED (${failures.length}):`);
    for (const f of failures) console.error(`  ${f}`);
    process.exitCode = 1;
  } else if (ran.length === 0) {
    console.error(`soak: no backend ran${tail}`);
    process.exitCode = 1;
  } else {
    console.log(`soak PASSED: ${ran.join(', ')}${tail}`);
  }
}
