/**
 * The experiment commands behind `pnpm bench <command>`: run, print readable tables, write the JSON
 * (and the figures) into the output folder.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type AnytimeOptions, runAnytime } from './experiments/anytime.js';
import { type Check, tallyText } from './experiments/checks.js';
import { type ConvexOptions, runConvex } from './experiments/convex.js';
import { type MnistOptions, type MnistResult, runMnist } from './experiments/mnist.js';
import { type QuadraticsOptions, runQuadratics } from './experiments/quadratics.js';
import {
  type RobustnessOptions,
  type RobustnessResult,
  runRobustness,
  slopeChangeChecks,
} from './experiments/robustness.js';
import { runScheduleFreePlus } from './experiments/sfplus.js';
import { consoleReporter, formatTable, type Reporter } from './lib/console.js';
import { writeJson } from './lib/io.js';
import { loadResults, resultFile, writeReport } from './report/report.js';
import {
  anytimeTables,
  checksTable,
  convexTable,
  mnistTables,
  quadraticsTable,
  robustnessTables,
  type Table,
} from './report/tables.js';

export function printTable(reporter: Reporter, table: Table): void {
  reporter.log(`\n${table.title}\n${formatTable(table.headers, table.rows)}`);
}

export function printChecks(reporter: Reporter, checks: Check[], selection?: string): void {
  if (!checks.length) return;
  printTable(reporter, checksTable(`Claims from the experiments spec: ${tallyText(checks)}`, checks));
  if (selection) reporter.log(`Selection rule: ${selection}`);
}

async function figures(out: string, reporter: Reporter): Promise<void> {
  const files = await writeReport(out, loadResults(out));
  reporter.log(
    `\nWrote ${files.length} files in ${out} (report.html, ${files.filter((f) => f.endsWith('.svg')).length} figures).`,
  );
}

export async function convexCommand(
  out: string,
  files: string[],
  options: Partial<ConvexOptions>,
  reporter = consoleReporter(),
): Promise<void> {
  for (const file of files) {
    const result = runConvex(file, options, reporter);
    printTable(reporter, convexTable(result));
    printChecks(reporter, result.checks, result.selection);
    writeJson(join(out, resultFile.convex(basename(file).replace(/\.csv$/i, ''))), result);
  }
  await figures(out, reporter);
}

export async function robustnessCommand(
  out: string,
  options: Partial<RobustnessOptions>,
  baselineFile?: string,
  reporter = consoleReporter(),
) {
  const result = runRobustness(options, reporter);
  if (baselineFile) {
    const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as RobustnessResult;
    result.checks.push(...slopeChangeChecks(result, baseline));
  }
  for (const t of robustnessTables(result)) printTable(reporter, t);
  printChecks(reporter, result.checks, result.selection);
  writeJson(join(out, resultFile.robustness), result);
  await figures(out, reporter);
}

export async function quadraticsCommand(
  out: string,
  options: Partial<QuadraticsOptions>,
  reporter = consoleReporter(),
) {
  const result = runQuadratics(options, reporter);
  printTable(reporter, quadraticsTable(result));
  printChecks(reporter, result.checks, result.selection);
  writeJson(join(out, resultFile.quadratics), result);
  await figures(out, reporter);
}

export async function anytimeCommand(
  out: string,
  options: Partial<AnytimeOptions>,
  reporter = consoleReporter(),
) {
  const result = await runAnytime(options, reporter);
  for (const t of anytimeTables(result)) printTable(reporter, t);
  printChecks(reporter, result.checks, result.selection);
  writeJson(join(out, resultFile.anytime), result);
  await figures(out, reporter);
}

export async function mnistCommand(
  out: string,
  options: Partial<MnistOptions>,
  reporter = consoleReporter(),
) {
  const result = await runMnist(options, reporter);
  for (const t of mnistTables(result)) printTable(reporter, t);
  printChecks(reporter, result.checks, result.selection);
  reporter.log(
    `Search on ${result.search.workers} thread(s): ${result.search.stages.map((s) => `${s.stage} ${s.jobs} runs ${s.seconds.toFixed(0)} s`).join('; ')}.`,
  );
  writeJson(join(out, resultFile.mnist), result);
  await figures(out, reporter);
}

/**
 * ScheduleFree+ on B5's task and protocol; `baselineFile` (a B5 mnist.json with the same options)
 * supplies the B5 methods' searches, so only ScheduleFree+ is searched.
 */
export async function sfplusCommand(
  out: string,
  options: Partial<MnistOptions>,
  baselineFile?: string,
  reporter = consoleReporter(),
) {
  const earlier = baselineFile ? (JSON.parse(readFileSync(baselineFile, 'utf8')) as MnistResult) : undefined;
  const result = await runScheduleFreePlus(options, earlier, reporter);
  for (const t of mnistTables(result, 'SF+ on B5')) printTable(reporter, t);
  printChecks(reporter, result.checks, result.selection);
  reporter.log(
    `Search on ${result.search.workers} thread(s): ${result.search.stages.map((s) => `${s.stage} ${s.jobs} runs ${s.seconds.toFixed(0)} s`).join('; ')}${earlier ? ` (B5 methods' searches from ${baselineFile})` : ''}. Total ${result.seconds.toFixed(0)} s.`,
  );
  writeJson(join(out, resultFile.sfplus), result);
  await figures(out, reporter);
}

/** Rebuilds report.html, summary.md and the figures from the JSON already in `out`. */
export async function reportCommand(out: string, reporter = consoleReporter()): Promise<void> {
  await figures(out, reporter);
}
