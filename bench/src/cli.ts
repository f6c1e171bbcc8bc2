import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';
import { runPerf } from './perf/run.js';

const USAGE = `Usage: pnpm bench <command> [options]

  perf --backend NAME --optimizer CLASS --size N[,N...] [--steps K] [--json FILE]
      Median step time against the floor of a plain typed-array copy (and the backend's own
      baseline optimizer where it has one). Backends: core-f32, core-f64, core-eager-f32.
  demo [--out DIR]
      The tour a new user runs first.`;

function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`--size: cannot read "${text}" (use e.g. 1000000, 1M or 10M)`);
  const scale = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6 }[m[2]]!;
  return Math.round(Number(m[1]) * scale);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const { values } = parseArgs({
    args: rest,
    options: {
      backend: { type: 'string', default: 'core-f32' },
      optimizer: { type: 'string', default: 'AdamWScheduleFree' },
      size: { type: 'string', default: '1M' },
      steps: { type: 'string', default: '20' },
      json: { type: 'string' },
      out: { type: 'string' },
    },
    strict: false,
  });
  switch (command) {
    case 'perf':
      await runPerf({
        backend: String(values.backend),
        optimizer: String(values.optimizer),
        sizes: String(values.size).split(',').map(parseSize),
        steps: Number(values.steps),
        json: values.json ? resolve(cwd, String(values.json)) : undefined,
      });
      return;
    case 'demo':
      await runDemo({ out: resolve(cwd, String(values.out ?? 'bench/results/demo')) });
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
