import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { printChecks, printTable } from './commands.js';
import { bundledData } from './data.js';
import { type AnytimeOptions, runAnytime } from './experiments/anytime.js';
import { tallyText } from './experiments/checks.js';
import { runConvex } from './experiments/convex.js';
import { type QuadraticsOptions, runQuadratics } from './experiments/quadratics.js';
import { type RobustnessOptions, runRobustness } from './experiments/robustness.js';
import { consoleReporter, type Reporter } from './lib/console.js';
import { writeJson } from './lib/io.js';
import { resultFile, writeReport } from './report/report.js';
import { anytimeTables, convexTable, quadraticsTable, robustnessTables } from './report/tables.js';

/**
 * The demo's settings. B1 (Glass) runs its full protocol. B4 runs 20 seeds instead of the full
 * run's 200, B3 50 quadratics instead of 200, and B2 horizons of 2/4/8 epochs instead of
 * 5/10/20/40 on 3-point √2 grids with 4 seeds: these are shortened, so their intervals are wider
 * (more claims come out inconclusive) than in the full runs of docs/results.md.
 */
export const DEMO_SETTINGS = {
  robustness: { seeds: 20, bootstrapReplicates: 500 } satisfies Partial<RobustnessOptions>,
  quadratics: { problems: 50 } satisfies Partial<QuadraticsOptions>,
  anytime: {
    seeds: 4,
    checkpoints: [2, 4, 8],
    cosineLrHalfOctaves: [-11, -9],
    sfLrHalfOctaves: [-10, -8],
    bootstrapReplicates: 1000,
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
  reporter.log('Schedule-Free against the schedules you use today, on this project’s code.');
  reporter.log(
    'Each claim has a 95 % interval; it holds or fails only when the whole interval is on one side of its target.\n',
  );

  reporter.log(
    `1/4 How much does a badly tuned learning rate cost? (paper b; shortened: ${DEMO_SETTINGS.robustness.seeds} seeds instead of 200)`,
  );
  const robustness = runRobustness(DEMO_SETTINGS.robustness, reporter);
  for (const t of robustnessTables(robustness)) printTable(reporter, t);
  printChecks(reporter, robustness.checks, robustness.selection);
  writeJson(join(out, resultFile.robustness), robustness);

  reporter.log('\n2/4 Convex softmax regression on Glass (paper a, §4.2; full protocol)');
  const convex = runConvex(bundledData('glass.csv'), {}, reporter);
  printTable(reporter, convexTable(convex));
  printChecks(reporter, convex.checks, convex.selection);
  writeJson(join(out, resultFile.convex('glass')), convex);

  reporter.log(
    `\n3/4 Large learning rates on quadratics (paper a, Fig. 2b; shortened: ${DEMO_SETTINGS.quadratics.problems} problems instead of 200)`,
  );
  const quadratics = runQuadratics(DEMO_SETTINGS.quadratics, reporter);
  printTable(reporter, quadraticsTable(quadratics));
  printChecks(reporter, quadratics.checks, quadratics.selection);
  writeJson(join(out, resultFile.quadratics), quadratics);

  reporter.log(
    '\n4/4 One Schedule-Free run against cosine runs of every length (paper a, Fig. 1; tfjs wasm; shortened: 2/4/8 epochs, 3-point grids, 4 seeds)',
  );
  const anytime = await runAnytime(DEMO_SETTINGS.anytime, reporter);
  for (const t of anytimeTables(anytime)) printTable(reporter, t);
  printChecks(reporter, anytime.checks, anytime.selection);
  writeJson(join(out, resultFile.anytime), anytime);

  const files = await writeReport(
    out,
    { convex: [convex], robustness, quadratics, anytime },
    'schedulefree-js demo (B4, B3 and B2 shortened)',
  );
  const all = [robustness, convex, quadratics, anytime].flatMap((r) => r.checks);
  reporter.log(
    `\nClaims: ${tallyText(all)}. B4, B3 and B2 are shortened; docs/results.md has the full runs.`,
  );
  reporter.log(
    `Done in ${((performance.now() - start) / 1000).toFixed(0)} s. Open ${join(out, 'report.html')} (${files.filter((f) => f.endsWith('.svg')).length} figures, JSON beside it).`,
  );
}
