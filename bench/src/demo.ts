import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { printChecks, printTable } from './commands.js';
import { bundledData } from './data.js';
import { type AnytimeOptions, runAnytime } from './experiments/anytime.js';
import { runConvex } from './experiments/convex.js';
import { runQuadratics } from './experiments/quadratics.js';
import { type RobustnessOptions, runRobustness } from './experiments/robustness.js';
import { consoleReporter, type Reporter } from './lib/console.js';
import { writeJson } from './lib/io.js';
import { resultFile, writeReport } from './report/report.js';
import { anytimeTable, convexTable, quadraticsTable, robustnessTables } from './report/tables.js';

/**
 * The demo's settings: B4, B1 and B3 at their full protocols (B4's seeds share one optimizer call,
 * so all 20 are cheap); B2 with horizons of 2/4/8 instead of 5/10/20/40 epochs and 4-point grids.
 */
export const DEMO_SETTINGS = {
  robustness: {} satisfies Partial<RobustnessOptions>,
  anytime: {
    seeds: 3,
    checkpoints: [2, 4, 8],
    cosineLrExponents: [-8, -5],
    sfLrExponents: [-7, -4],
  } satisfies Partial<AnytimeOptions>,
};

/**
 * The tour a new user runs first (`pnpm demo`): B4 (robustness), B1 on Glass, B3
 * (quadratics) and a shortened B2 (anytime), with progress bars and tables in the terminal, and
 * report.html with its SVG figures and the JSON results in `out`. About a minute on 2 cores.
 */
export async function runDemo({
  out,
  reporter = consoleReporter(),
}: {
  out: string;
  reporter?: Reporter;
}): Promise<void> {
  mkdirSync(out, { recursive: true });
  const start = performance.now();
  reporter.log('Schedule-Free against the schedules you use today, on this project’s code.\n');

  reporter.log(
    '1/4 How much does a badly tuned learning rate cost? (paper b, streaming logistic and LAD regression)',
  );
  const robustness = runRobustness(DEMO_SETTINGS.robustness, reporter);
  for (const t of robustnessTables(robustness)) printTable(reporter, t);
  printChecks(reporter, robustness.checks);
  writeJson(join(out, resultFile.robustness), robustness);

  reporter.log('\n2/4 Convex softmax regression on Glass (paper a, §4.2)');
  const convex = runConvex(bundledData('glass.csv'), {}, reporter);
  printTable(reporter, convexTable(convex));
  printChecks(reporter, convex.checks);
  writeJson(join(out, resultFile.convex('glass')), convex);

  reporter.log('\n3/4 Large learning rates on quadratics (paper a, Fig. 2b)');
  const quadratics = runQuadratics({}, reporter);
  printTable(reporter, quadraticsTable(quadratics));
  printChecks(reporter, quadratics.checks);
  writeJson(join(out, resultFile.quadratics), quadratics);

  reporter.log(
    '\n4/4 One Schedule-Free run against cosine runs of every length (paper a, Fig. 1; tfjs wasm)',
  );
  const anytime = await runAnytime(DEMO_SETTINGS.anytime, reporter);
  printTable(reporter, anytimeTable(anytime));
  printChecks(reporter, anytime.checks);
  writeJson(join(out, resultFile.anytime), anytime);

  const files = await writeReport(
    out,
    { convex: [convex], robustness, quadratics, anytime },
    'schedulefree-js demo',
  );
  const all = [robustness, convex, quadratics, anytime].flatMap((r) => r.checks);
  reporter.log(
    `\n${all.filter((c) => c.pass).length} of ${all.length} claims hold (B2 shortened; see docs/results.md for full runs).`,
  );
  reporter.log(
    `Done in ${((performance.now() - start) / 1000).toFixed(0)} s. Open ${join(out, 'report.html')} (${files.filter((f) => f.endsWith('.svg')).length} figures, JSON beside it).`,
  );
}
