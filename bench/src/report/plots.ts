/**
 * Figures of the experiments as Vega-Lite specifications, rendered to SVG in Node by Vega (no
 * browser, no canvas). Each function takes an experiment's JSON result and returns a spec.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { AnytimeResult } from '../experiments/anytime.js';
import type { ConvexResult } from '../experiments/convex.js';
import type { MnistResult } from '../experiments/mnist.js';
import type { QuadraticsResult } from '../experiments/quadratics.js';
import type { RobustnessResult } from '../experiments/robustness.js';

/** Renders a Vega-Lite spec to a standalone SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = { font: 'Helvetica, Arial, sans-serif' };
const base = { $schema: SCHEMA, config: { ...FONT, view: { stroke: '#ccc' } }, background: 'white' } as const;

/** Schedule-Free in a strong colour, baselines in muted ones, the same across figures. */
const methodColors: Record<string, string> = {
  'schedule-free': '#d62728',
  'linear-decay': '#1f77b4',
  linear: '#1f77b4',
  cosine: '#2ca02c',
  fixed: '#7f7f7f',
  'inverse-sqrt': '#bcbd22',
  'polynomial-2': '#17becf',
  polyak: '#9467bd',
  primal: '#8c564b',
};

function colorScale(methods: readonly string[]) {
  return { domain: [...methods], range: methods.map((m) => methodColors[m] ?? '#ff7f0e') };
}

/** B1: train loss and accuracy at each method's best lr, per checkpoint. */
export function convexCurvesSpec(result: ConvexResult): TopLevelSpec {
  const names = Object.keys(result.methods);
  const values = Object.entries(result.methods).flatMap(([method, m]) =>
    m!.curve.map((c) => ({ method, epoch: c.epoch, loss: c.loss, accuracy: 100 * c.accuracy })),
  );
  const panel = (field: 'loss' | 'accuracy', title: string, scale: object) => ({
    width: 300,
    height: 220,
    mark: { type: 'line' as const, point: { size: 12 } },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch' },
      y: { field, type: 'quantitative' as const, title, scale },
      color: { field: 'method', type: 'nominal' as const, scale: colorScale(names), title: 'method' },
    },
  });
  return {
    ...base,
    title: `B1 · softmax regression on ${result.dataset}: train loss and accuracy at each method's best lr`,
    data: { values },
    hconcat: [
      panel('loss', 'train loss (at x)', { type: 'log' }),
      panel('accuracy', 'train accuracy (%)', { zero: false }),
    ],
  } as TopLevelSpec;
}

/** B1: final train loss against the learning rate, per method. */
export function convexGridSpec(result: ConvexResult): TopLevelSpec {
  const names = Object.keys(result.methods);
  const values = Object.entries(result.methods).flatMap(([method, m]) =>
    m!.grid.filter((g) => Number.isFinite(g.loss)).map((g) => ({ method, lr: g.lr, loss: g.loss })),
  );
  return {
    ...base,
    title: `B1 · ${result.dataset}: final train loss against the learning rate`,
    width: 420,
    height: 240,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'lr', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'learning rate' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'final train loss' },
      color: { field: 'method', type: 'nominal', scale: colorScale(names) },
    },
  } as TopLevelSpec;
}

/** B4: R(ρ) against ρ on log–log axes, one panel per problem. */
export function robustnessSpec(result: RobustnessResult): TopLevelSpec {
  const values = Object.entries(result.problems).flatMap(([problem, p]) =>
    Object.entries(p!.methods).flatMap(([method, m]) =>
      Object.entries(m!.ratios)
        .filter(([, r]) => Number.isFinite(r))
        .map(([rho, r]) => ({ problem, method, rho: Number(rho), R: r })),
    ),
  );
  const names = [...new Set(values.map((v) => v.method))];
  return {
    ...base,
    title: 'B4 · loss at ρ·η* over loss at η* (median over seeds)',
    data: { values },
    facet: { column: { field: 'problem', type: 'nominal', title: null } },
    spec: {
      width: 280,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'rho',
          type: 'quantitative',
          scale: { type: 'log', base: 2 },
          title: 'ρ (lr / tuned lr)',
        },
        y: { field: 'R', type: 'quantitative', scale: { type: 'log' }, title: 'R(ρ)' },
        color: { field: 'method', type: 'nominal', scale: colorScale(names) },
      },
    },
  } as TopLevelSpec;
}

/** B3: the β–γ map of log10 best relative suboptimality (diverged cells marked). */
export function quadraticsSpec(result: QuadraticsResult): TopLevelSpec {
  const values = result.cells.map((c) => ({
    beta: String(c.beta),
    gamma: `2^${Math.round(Math.log2(c.lr))}`,
    k: Math.log2(c.lr),
    value: c.log10Suboptimality,
    label: c.diverged === result.config.problems ? '×' : c.log10Suboptimality.toFixed(1),
  }));
  const gammaOrder = [...new Set(values.sort((a, b) => a.k - b.k).map((v) => v.gamma))];
  const encodeXY = {
    x: { field: 'gamma', type: 'ordinal', sort: gammaOrder, title: 'γ' },
    y: { field: 'beta', type: 'ordinal', sort: 'descending', title: 'β' },
  };
  return {
    ...base,
    title: 'B3 · SF-GD on quadratics: log10 of best relative suboptimality (× = diverged)',
    data: { values },
    width: 480,
    height: 240,
    layer: [
      {
        mark: 'rect',
        encoding: {
          ...encodeXY,
          color: {
            field: 'value',
            type: 'quantitative',
            scale: { scheme: 'viridis', reverse: true },
            title: 'log10',
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 9 },
        encoding: {
          ...encodeXY,
          text: { field: 'label' },
          // Dark text on the light (well-converged) end of the colour scale.
          color: { condition: { test: 'datum.value < -3.9', value: 'black' }, value: 'white' },
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * B2: train objective against epochs: the Schedule-Free run, every tuned cosine run (thin), and
 * each cosine run's final value (the frontier Schedule-Free is compared with) as a large point.
 */
export function anytimeSpec(result: AnytimeResult): TopLevelSpec {
  const values = [
    ...result.scheduleFree.curve.map((c) => ({
      run: 'schedule-free (one run)',
      epoch: c.epoch,
      objective: c.trainObjective,
    })),
    ...result.cosine.flatMap((r) =>
      r.curve.map((c) => ({ run: `cosine ${r.epochs} ep`, epoch: c.epoch, objective: c.trainObjective })),
    ),
  ];
  const finals = result.cosine.map((r) => ({
    run: `cosine ${r.epochs} ep`,
    epoch: r.epochs,
    objective: r.trainObjective,
  }));
  const runs = [...new Set(values.map((v) => v.run))];
  const greens = ['#a1d99b', '#74c476', '#31a354', '#006d2c', '#00441b'];
  const color = {
    field: 'run',
    type: 'nominal',
    scale: {
      domain: runs,
      range: runs.map((r, i) => (r.startsWith('schedule') ? '#d62728' : greens[i % greens.length])),
    },
    legend: { labelLimit: 220, title: 'run' },
  };
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { format: 'd' } };
  const y = {
    field: 'objective',
    type: 'quantitative',
    scale: { type: 'log' },
    title: 'train objective (CE + L2), at x',
  };
  return {
    ...base,
    title: {
      text: 'B2 · MLP on digits: one Schedule-Free run against tuned cosine runs of each length',
      subtitle: 'thin lines: cosine runs, each tuned for its length; dots: where each ends',
    },
    width: 460,
    height: 280,
    layer: [
      {
        data: { values },
        mark: { type: 'line' },
        encoding: {
          x,
          y,
          color,
          strokeWidth: { condition: { test: "indexof(datum.run, 'schedule') === 0", value: 2.5 }, value: 1 },
        },
      },
      {
        data: { values: finals },
        mark: { type: 'point', filled: true, size: 80 },
        encoding: { x, y, color },
      },
    ],
  } as TopLevelSpec;
}

/** B5: train and test metrics per epoch at each method's selected setting. */
export function mnistSpec(result: MnistResult): TopLevelSpec {
  const names = Object.keys(result.methods);
  const values = Object.entries(result.methods).flatMap(([method, m]) =>
    m!.curve.map((c) => ({
      method,
      epoch: c.epoch,
      trainLoss: c.trainLoss,
      testLoss: c.testLoss,
      testAccuracy: 100 * c.testAccuracy,
      calibratedTestLoss: c.calibratedTestLoss,
    })),
  );
  const panel = (field: string, title: string, scale: object) => ({
    width: 230,
    height: 200,
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative' as const, axis: { format: 'd' } },
      y: { field, type: 'quantitative' as const, title, scale },
      color: { field: 'method', type: 'nominal' as const, scale: colorScale(names) },
    },
  });
  return {
    ...base,
    title: {
      text: 'B5 · MLP on MNIST (10k): each method at its validation-selected lr and weight decay',
      subtitle:
        'train CE at x (optimization); test CE, accuracy and temperature-calibrated test CE (generalization)',
    },
    data: { values },
    hconcat: [
      panel('trainLoss', 'train cross-entropy at x', { type: 'log' }),
      panel('testLoss', 'test cross-entropy', { zero: false }),
      panel('calibratedTestLoss', 'calibrated test cross-entropy', { zero: false }),
      panel('testAccuracy', 'test accuracy (%)', { zero: false }),
    ],
  } as TopLevelSpec;
}

/** B5: final validation loss against the lr, one line per weight decay, one panel per method. */
export function mnistGridSpec(result: MnistResult): TopLevelSpec {
  const values = Object.entries(result.methods).flatMap(([method, m]) =>
    m!.grid
      .filter((g) => Number.isFinite(g.validationLoss))
      .map((g) => ({ method, lr: g.lr, weightDecay: String(g.weightDecay), loss: g.validationLoss })),
  );
  const chosen = Object.entries(result.methods).map(([method, m]) => ({
    method,
    lr: m!.lr,
    loss: m!.final.validationLoss,
  }));
  const x = {
    field: 'lr',
    type: 'quantitative',
    scale: { type: 'log', base: 2 },
    axis: { labelExpr: "'2^' + round(log(datum.value) / LN2)" },
    title: 'learning rate',
  };
  const y = { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'final validation CE' };
  return {
    ...base,
    title: {
      text: 'B5 · the lr × weight-decay search on validation',
      subtitle: 'each point: seed-mean validation cross-entropy after the last epoch; ring: selected',
    },
    facet: { column: { field: 'method', type: 'nominal', title: null } },
    data: { values: [...values, ...chosen.map((c) => ({ ...c, selected: true }))] },
    spec: {
      width: 230,
      height: 200,
      layer: [
        {
          transform: [{ filter: '!datum.selected' }],
          mark: { type: 'line', point: true },
          encoding: { x, y, color: { field: 'weightDecay', type: 'ordinal', title: 'weight decay λ' } },
        },
        {
          transform: [{ filter: 'datum.selected' }],
          mark: { type: 'point', size: 160, strokeWidth: 2, color: 'black' },
          encoding: { x, y },
        },
      ],
    },
  } as TopLevelSpec;
}
