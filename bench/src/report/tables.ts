/**
 * The experiments' results as tables (headers + rows), rendered three ways: aligned text in the
 * terminal, HTML in report.html, Markdown in summary.md.
 */
import type { AnytimeResult } from '../experiments/anytime.js';
import type { Check } from '../experiments/checks.js';
import type { ConvexResult } from '../experiments/convex.js';
import type { MnistResult } from '../experiments/mnist.js';
import type { QuadraticsResult } from '../experiments/quadratics.js';
import type { RobustnessResult } from '../experiments/robustness.js';
import { formatLr, formatNumber } from '../lib/console.js';
import { formatThreshold, type Interval } from '../lib/intervals.js';

export interface Table {
  title: string;
  headers: string[];
  rows: Array<Array<string | number>>;
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/** "[lo, hi]" with the table's number format. */
export const formatInterval = ([lo, hi]: Interval) => `[${formatNumber(lo)}, ${formatNumber(hi)}]`;

export function convexTable(result: ConvexResult): Table {
  return {
    title: `B1 · softmax regression on ${result.dataset} (${result.rows} rows, ${result.config.seeds} seeds, ${result.config.epochs} epochs): each method at its best lr`,
    headers: ['method', 'best lr', 'train loss', '± se', 'train accuracy', '± se (pp)'],
    rows: Object.entries(result.methods).map(([name, m]) => [
      name,
      formatLr(m!.bestLr),
      m!.trainLoss.toFixed(4),
      m!.trainLossSe.toFixed(4),
      pct(m!.trainAccuracy),
      (100 * m!.trainAccuracySe).toFixed(2),
    ]),
  };
}

const RHO_COLUMNS = ['0.25', '0.5', '2', '4', '8', '16', '64'];

export function robustnessTables(result: RobustnessResult): Table[] {
  return [...ratioTables(result), regretTable(result)];
}

/** Coarse-grid regret: how much worse the best point of a grid of ratio ρ can be, over its offsets. */
function regretTable(result: RobustnessResult): Table {
  const ratios = ['2', '4', '8', '16'];
  return {
    title:
      'B4 · coarse-grid regret: worst (best lr on a grid of ratio ρ) / (best lr on the fine grid), over the grid’s offsets',
    headers: ['problem', 'method', ...ratios.map((r) => `ρ = ${r}`)],
    rows: Object.entries(result.problems).flatMap(([problem, p]) =>
      Object.entries(p!.methods).map(([name, m]) => [
        problem,
        name,
        ...ratios.map((r) => formatNumber(m!.coarseGridRegret[r])),
      ]),
    ),
  };
}

function ratioTables(result: RobustnessResult): Table[] {
  return Object.entries(result.problems).map(([problem, p]) => ({
    title: `B4 · ${problem}: R(ρ) = loss at ρ·η* / loss at η* (median of ${result.config.seeds} seeds, T = ${result.config.steps}); slope of log R over ρ ∈ [${result.config.slopeRange.join(', ')}] with its 95 % seed-bootstrap interval`,
    headers: [
      'method',
      'η*',
      'slope',
      'slope 95 %',
      ...RHO_COLUMNS.map((r) => `R(${r === '0.25' ? '1/4' : r === '0.5' ? '1/2' : r})`),
    ],
    rows: Object.entries(p!.methods).map(([name, m]) => [
      name,
      formatLr(m!.bestLr),
      m!.slope.toFixed(2),
      `[${m!.slopeInterval[0].toFixed(2)}, ${m!.slopeInterval[1].toFixed(2)}]`,
      ...RHO_COLUMNS.map((r) => (m!.ratios[r] === undefined ? '–' : formatNumber(m!.ratios[r]))),
    ]),
  }));
}

export function quadraticsTable(result: QuadraticsResult): Table {
  const lrs = [...new Set(result.cells.map((c) => c.lr))].sort((a, b) => a - b);
  return {
    title: `B3 · SF-GD on ${result.config.problems} quadratics (d = ${result.config.dims}, T = ${result.config.steps}): mean log10 of the best relative suboptimality of x (× = diverged on every problem)`,
    headers: ['β \\ γ', ...lrs.map(formatLr)],
    rows: result.config.betas.map((beta) => [
      String(beta),
      ...lrs.map((lr) => {
        const c = result.cells.find((cell) => cell.beta === beta && cell.lr === lr);
        if (!c) return '';
        return c.diverged === result.config.problems ? '×' : c.log10Suboptimality.toFixed(2);
      }),
    ]),
  };
}

/** An lr with "(edge)" when it is the first or last point of its grid (the optimum may lie beyond). */
const gridLr = (run: { lr: number; lrInside: boolean }) =>
  `${formatLr(run.lr)}${run.lrInside ? '' : ' (edge)'}`;

export function anytimeTables(result: AnytimeResult): Table[] {
  const checkpoints = result.comparison.map((c) => c.epoch);
  return [
    {
      title: `B2 · MLP on digits (${result.config.seeds} seeds): one Schedule-Free run (lr ${gridLr(result.scheduleFree)}, chosen by its anytime score, evaluated at x) against the best cosine run of each length; train objective = optimization, test accuracy = generalization`,
      headers: [
        'epochs',
        'SF objective',
        'cosine objective',
        'cosine lr',
        'SF / cosine',
        '95 % (seeds)',
        'SF test acc',
        'cosine test acc',
      ],
      rows: result.comparison.map((c) => [
        c.epoch,
        formatNumber(c.sfObjective),
        formatNumber(c.cosineObjective),
        gridLr(result.cosine.find((r) => r.epochs === c.epoch)!),
        c.ratio.toFixed(3),
        `[${c.ratioInterval[0].toFixed(3)}, ${c.ratioInterval[1].toFixed(3)}]`,
        pct(c.sfTestAccuracy),
        pct(c.cosineTestAccuracy),
      ]),
    },
    {
      title:
        'B2 · Schedule-Free lr grid: anytime score (mean log objective over log epochs; lowest is chosen, *) and the objective at each checkpoint (the lowest at each is marked +)',
      headers: ['lr', 'anytime score', ...checkpoints.map((e) => `objective @${e}`)],
      rows: result.scheduleFree.grid.map((g) => [
        `${formatLr(g.lr)}${g.lr === result.scheduleFree.lr ? ' *' : ''}`,
        g.score.toFixed(3),
        ...checkpoints.map(
          (e) =>
            `${formatNumber(g.trainObjective[String(e)])}${result.scheduleFree.bestLrAt[String(e)] === g.lr ? ' +' : ''}`,
        ),
      ]),
    },
  ];
}

const withSe = (v: number, se: number, digits = 4) => `${v.toFixed(digits)} ± ${se.toFixed(digits)}`;

/** B5's tables (`label` names the experiment in the titles). */
export function mnistTables(result: MnistResult, label = 'B5'): Table[] {
  const flag = (m: NonNullable<MnistResult['methods'][keyof MnistResult['methods']]>) =>
    [
      m.flags.lrInside ? '' : 'lr not bracketed',
      m.flags.weightDecayAtTop ? 'λ at top of grid' : '',
      m.reproduced ? '' : 'rerun differs',
      m.searchReused ? 'search from an earlier run' : '',
    ]
      .filter(Boolean)
      .join('; ') || '–';
  const entries = Object.entries(result.methods);
  const lrs = [...new Set(entries.flatMap(([, m]) => m!.grid.map((g) => g.lr)))].sort((a, b) => a - b);
  return [
    {
      title: `${label} · MLP 784-${result.config.hidden}-10 on MNIST (${result.split.train} train / ${result.split.validation} validation / ${result.split.test} test rows, ${result.config.seeds} seeds, ${result.config.epochs} epochs): each method at the (lr, λ) with the lowest validation loss; mean ± standard error over seeds. Train CE at x = optimization; test columns = generalization`,
      headers: [
        'method',
        'lr',
        'λ',
        'validation CE',
        'train CE at x',
        'test CE',
        'test accuracy',
        'calibrated test CE',
        'T',
        'flags',
      ],
      rows: entries.map(([name, m]) => [
        name,
        formatLr(m!.lr),
        String(m!.weightDecay),
        withSe(m!.final.validationLoss, m!.final.se.validationLoss),
        withSe(m!.final.trainLoss, m!.final.se.trainLoss),
        withSe(m!.final.testLoss, m!.final.se.testLoss),
        `${pct(m!.final.testAccuracy)} ± ${(100 * m!.final.se.testAccuracy).toFixed(2)}`,
        withSe(m!.final.calibratedTestLoss, m!.final.se.calibratedTestLoss),
        m!.final.temperature.toFixed(2),
        flag(m!),
      ]),
    },
    {
      title: `${label} · the search: seed-mean final validation cross-entropy at every (lr, λ) run (coarse factor-4 grid, then factor-2 refinement around the best); * = selected`,
      headers: ['method', 'λ', ...lrs.map(formatLr)],
      rows: entries.flatMap(([name, m]) =>
        [...new Set(m!.grid.map((g) => g.weightDecay))].map((wd) => [
          name,
          String(wd),
          ...lrs.map((lr) => {
            const g = m!.grid.find((p) => p.lr === lr && p.weightDecay === wd);
            if (!g) return '';
            // A diverged run's NaN is written to JSON as null.
            if (!Number.isFinite(g.validationLoss)) return 'diverged';
            return `${g.validationLoss.toFixed(4)}${lr === m!.lr && wd === m!.weightDecay ? ' *' : ''}`;
          }),
        ]),
      ),
    },
  ];
}

const VERDICT_LABEL = {
  pass: 'pass',
  fail: 'FAIL',
  inconclusive: 'inconclusive',
  reported: 'reported',
} as const;

export function checksTable(title: string, checks: Check[]): Table {
  return {
    title,
    headers: ['claim', 'measures', 'value', '95 % interval', 'target', 'verdict', 'interval from'],
    rows: checks.map((c) => [
      c.claim,
      c.measures,
      formatNumber(c.value),
      formatInterval(c.interval),
      formatThreshold(c.threshold),
      VERDICT_LABEL[c.verdict],
      c.uncertainty,
    ]),
  };
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function tableToHtml(table: Table): string {
  const cell = (tag: string, v: string | number) =>
    `<${tag}${typeof v === 'number' || /^[-−]?[\d.]+(e[-+]?\d+)?%?$/.test(String(v)) ? ' class="num"' : ''}${v === 'FAIL' ? ' class="fail"' : v === 'inconclusive' ? ' class="open"' : ''}>${escapeHtml(typeof v === 'number' ? formatNumber(v) : v)}</${tag}>`;
  return [
    `<table><caption>${escapeHtml(table.title)}</caption>`,
    `<thead><tr>${table.headers.map((h) => cell('th', h)).join('')}</tr></thead>`,
    `<tbody>${table.rows.map((r) => `<tr>${r.map((v) => cell('td', v)).join('')}</tr>`).join('\n')}</tbody></table>`,
  ].join('\n');
}

export function tableToMarkdown(table: Table): string {
  const esc = (v: string | number) =>
    String(typeof v === 'number' ? formatNumber(v) : v).replace(/\|/g, '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.headers.map(esc).join(' | ')} |`,
    `| ${table.headers.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
