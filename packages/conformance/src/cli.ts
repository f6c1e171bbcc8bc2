#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReplayBackend } from './backend.js';
import type { CaseFile } from './cases.js';
import { goldenCases } from './cases.js';
import { compareToExpected } from './compare.js';
import { fuzz } from './fuzz.js';
import { discoverBackends } from './providers.js';
import { replayAll } from './replay.js';

const USAGE = `Usage:
  schedulefree-conformance replay --backend NAME [--cases FILE] [--out FILE] [--module SPEC]...
  schedulefree-conformance fuzz --backend NAME [--cases N] [--seed S] [--reference NAME] [--module SPEC]...
  schedulefree-conformance list [--module SPEC]...

replay   replays every case of FILE (layout of golden.json; default: the bundled golden cases) on a
         backend and writes { backend, cases: [{ name, steps: [{ params }], evalParams, error }] }.
         Cases with expected values are also compared, and a summary is printed to stderr.
         Exit status 1 if any case with expected values deviates beyond the dtype's tolerance.
fuzz     runs N random differential cases (default 200; seed S, default 1) on a backend against the
         float64 reference (default core-f64): random classes, options, sizes and gradients, frozen
         parameters and ScheduleFree+ where the backend declares them, train/eval and state-dict
         round trips between steps. Prints the worst deviation; exit status 1 on any failure.
list     prints the available backends.
--module loads a third-party module exporting conformanceBackends(): a package name, or a file path.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      backend: { type: 'string' },
      cases: { type: 'string' },
      seed: { type: 'string' },
      reference: { type: 'string' },
      out: { type: 'string' },
      module: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  // A path (./x.ts, /abs/x.js) is a file relative to the working directory; anything else a package.
  const modules = (values.module ?? []).map((spec) =>
    /^\.{0,2}\//.test(spec) ? pathToFileURL(resolve(process.cwd(), spec)).href : spec,
  );
  const backends = await discoverBackends(modules);
  if (command === 'list') {
    for (const b of backends) console.log(`${b.name}\t${b.dtype}`);
    return 0;
  }
  if (command !== 'replay' && command !== 'fuzz') {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const backend = backends.find((b) => b.name === values.backend);
  if (!backend) {
    console.error(
      `unknown backend "${values.backend ?? ''}"; available: ${backends.map((b) => b.name).join(', ')}`,
    );
    return 2;
  }
  if (command === 'fuzz') return runFuzz(backend, backends, values);
  const cases = values.cases
    ? (JSON.parse(readFileSync(resolve(cwd, values.cases), 'utf8')) as CaseFile).cases
    : [...goldenCases];
  const results = await replayAll(backend, cases);
  const output = { backend: backend.name, cases: results };
  if (values.out) writeFileSync(resolve(cwd, values.out), `${JSON.stringify(output)}\n`);
  else console.log(JSON.stringify(output));

  let failures = 0;
  let skipped = 0;
  for (const [i, spec] of cases.entries()) {
    const result = results[i];
    if (result.skipped) {
      skipped++;
      console.error(`skip   ${spec.name.padEnd(28)} ${result.error}`);
      continue;
    }
    const hasExpected = spec.steps.some((s) => s.y || s.x) || spec.evalParams;
    if (!hasExpected) {
      console.error(
        `${result.error ? 'ERROR' : 'ran  '}  ${spec.name}${result.error ? `: ${result.error}` : ''}`,
      );
      continue;
    }
    const d = compareToExpected(result, spec, backend.dtype);
    if (!d.ok) failures++;
    const status = result.error ? 'ERROR' : d.ok ? 'ok   ' : 'FAIL ';
    console.error(
      `${status}  ${spec.name.padEnd(28)} max rel. error ${d.worst.toExponential(2)}${d.ok ? '' : `  (${d.where})`}`,
    );
  }
  console.error(
    `${backend.name}: ${cases.length - failures - skipped} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ''}`,
  );
  return failures ? 1 : 0;
}

async function runFuzz(
  backend: ReplayBackend,
  backends: readonly ReplayBackend[],
  values: { cases?: string; seed?: string; reference?: string },
): Promise<number> {
  const count = Number(values.cases ?? 200);
  const seed = Number(values.seed ?? 1);
  const reference = backends.find((b) => b.name === (values.reference ?? 'core-f64'));
  if (!reference || !Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
    console.error(
      'fuzz needs --cases N (a whole number ≥ 1), --seed S (a whole number) and a known --reference.',
    );
    return 2;
  }
  const results = await fuzz(backend, reference, count, seed);
  const ran = results.filter((r) => !r.error?.startsWith('skipped'));
  const failed = ran.filter((r) => !r.ok);
  for (const r of failed) console.error(`FAIL   ${r.name}: ${r.error ?? r.where}`);
  const worst = ran.reduce((w, r) => (r.worst > w.worst ? r : w), { worst: 0, where: '', name: '' });
  console.error(
    `${backend.name}: fuzz ${ran.length} cases (seed ${seed}) against ${reference.name}, worst |a−b|/(1+|b|) ${worst.worst.toExponential(2)}${worst.name ? ` (${worst.name}: ${worst.where})` : ''}; ${failed.length} failed${ran.length < results.length ? `, ${results.length - ran.length} skipped` : ''}`,
  );
  return failed.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
