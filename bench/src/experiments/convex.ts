/**
 * B1: convex multiclass logistic (softmax) regression, paper (a)'s §4.2 protocol: Adam base
 * (β2 = 0.95), batch 16, no weight decay, a power-of-two lr grid tuned separately for each method,
 * final train loss and accuracy at each method's best lr (argmin of the mean final train loss).
 */
import { basename } from 'node:path';
import { type Dataset, readCsv, scaleToUnitBox } from '../data.js';
import { type Reporter, silentReporter } from '../lib/console.js';
import { bootstrap, type Threshold } from '../lib/intervals.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import {
  adamWith,
  averagedAdam,
  type Method,
  type Params,
  scheduleFreeAdam,
  shapes,
} from '../lib/methods.js';
import { deriveSeed, Rng } from '../lib/rng.js';
import { argminMean, resampledMean } from '../lib/selection.js';
import { argmin, mean, powerGrid, standardError } from '../lib/stats.js';
import { softmaxLoss } from '../softmax.js';
import { type Check, makeCheck } from './checks.js';

export const CONVEX_METHODS = ['schedule-free', 'linear-decay', 'polyak', 'primal'] as const;
export type ConvexMethod = (typeof CONVEX_METHODS)[number];

const BETA2 = 0.95;

export function convexMethod(name: ConvexMethod): Method {
  switch (name) {
    case 'schedule-free':
      return scheduleFreeAdam(name, { betas: [0.9, BETA2] });
    case 'linear-decay':
      return adamWith(name, shapes.linear, { betas: [0.9, BETA2] });
    case 'polyak':
      return averagedAdam(name, 0, BETA2);
    case 'primal':
      return averagedAdam(name, 1, BETA2);
  }
}

export interface ConvexOptions {
  seeds: number;
  epochs: number;
  batchSize: number;
  /** lr = 2^k for k in [lo, hi]. */
  lrExponents: [number, number];
  methods: ConvexMethod[];
  /** Resamples of the seed bootstrap behind every interval. */
  bootstrapReplicates: number;
}

export const DEFAULT_CONVEX: ConvexOptions = {
  seeds: 10,
  epochs: 100,
  batchSize: 16,
  lrExponents: [-10, 5],
  methods: [...CONVEX_METHODS],
  bootstrapReplicates: 2000,
};

export interface ConvexMethodResult {
  bestLr: number;
  /** Mean over seeds of the final train loss at the best lr (at x for the averaging methods). */
  trainLoss: number;
  trainLossSe: number;
  /** Mean over seeds of the final train accuracy at the best lr, as a fraction. */
  trainAccuracy: number;
  trainAccuracySe: number;
  /** Mean train loss and accuracy over seeds at the best lr, at each checkpoint. */
  curve: Array<{ epoch: number; loss: number; accuracy: number }>;
  /** Final mean train loss and accuracy at every lr of the grid. */
  grid: Array<{ lr: number; loss: number; accuracy: number }>;
}

export interface ConvexResult {
  experiment: 'convex';
  dataset: string;
  rows: number;
  features: number;
  classes: number;
  config: ConvexOptions;
  machine: MachineInfo;
  seconds: number;
  /** The selection rule, in words. */
  selection: string;
  methods: Partial<Record<ConvexMethod, ConvexMethodResult>>;
  checks: Check[];
}

/** Epochs at which the curves are recorded: every epoch up to 10, then every 5th, and the last. */
export function checkpoints(epochs: number): number[] {
  const list: number[] = [];
  for (let e = 1; e <= epochs; e++) if (e <= 10 || e % 5 === 0 || e === epochs) list.push(e);
  return list;
}

/**
 * Trains one method at every lr of a grid for all seeds at once: each lr gets one optimizer over
 * parameters concatenating all seeds (the optimizers are elementwise); seed s draws its own batch
 * order, identical across lrs and methods. Returns [lr][checkpoint][seed] loss and accuracy.
 */
export function trainSoftmaxGrid(
  data: Dataset,
  method: Method,
  lrs: readonly number[],
  options: Pick<ConvexOptions, 'seeds' | 'epochs' | 'batchSize'>,
  onEpoch?: () => void,
): { epochs: number[]; loss: number[][][]; accuracy: number[][][] } {
  const { seeds, epochs, batchSize } = options;
  const wSize = data.classes * data.dims;
  const stepsPerEpoch = Math.ceil(data.rows / batchSize);
  const marks = checkpoints(epochs);
  const runs = lrs.map((lr) => {
    const params: Params = { w: new Float64Array(seeds * wSize), b: new Float64Array(seeds * data.classes) };
    const grads: Params = { w: new Float64Array(seeds * wSize), b: new Float64Array(seeds * data.classes) };
    const view = (p: Params, s: number) => ({
      w: p.w.subarray(s * wSize, (s + 1) * wSize),
      b: p.b.subarray(s * data.classes, (s + 1) * data.classes),
    });
    return {
      params: Array.from({ length: seeds }, (_, s) => view(params, s)),
      grads: Array.from({ length: seeds }, (_, s) => view(grads, s)),
      all: grads,
      run: method.create(params, lr, epochs * stepsPerEpoch),
      loss: [] as number[][],
      accuracy: [] as number[][],
      view,
    };
  });
  const rngs = Array.from({ length: seeds }, (_, s) => new Rng(deriveSeed(s, data.name, 'order')));
  const everyRow = Int32Array.from({ length: data.rows }, (_, i) => i);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const orders = rngs.map((rng) => rng.permutation(data.rows));
    for (let start = 0; start < data.rows; start += batchSize) {
      const end = Math.min(start + batchSize, data.rows);
      for (const r of runs) {
        for (let s = 0; s < seeds; s++)
          softmaxLoss(data, r.params[s].w, r.params[s].b, orders[s].subarray(start, end), r.grads[s]);
        r.run.step(r.all);
      }
    }
    if (marks.includes(epoch)) {
      for (const r of runs) {
        const at = r.run.evalPoint();
        const losses: number[] = [];
        const accuracies: number[] = [];
        for (let s = 0; s < seeds; s++) {
          const v = r.view(at, s);
          const { loss, correct } = softmaxLoss(data, v.w, v.b, everyRow);
          losses.push(Number.isFinite(loss) ? loss : Number.NaN);
          accuracies.push(correct / data.rows);
        }
        r.loss.push(losses);
        r.accuracy.push(accuracies);
      }
    }
    onEpoch?.();
  }
  return { epochs: marks, loss: runs.map((r) => r.loss), accuracy: runs.map((r) => r.accuracy) };
}

/** Final train loss and accuracy of every (lr, seed) run of one method: [lr][seed]. */
export interface ConvexFinals {
  loss: number[][];
  accuracy: number[][];
}

/** Tunes and summarises one method on one dataset; also returns the per-seed finals for the bootstrap. */
export function measureConvex(
  data: Dataset,
  method: Method,
  options: ConvexOptions,
  onEpoch?: () => void,
): { result: ConvexMethodResult; finals: ConvexFinals } {
  const lrs = powerGrid(options.lrExponents[0], options.lrExponents[1]);
  const { epochs, loss, accuracy } = trainSoftmaxGrid(data, method, lrs, options, onEpoch);
  const last = epochs.length - 1;
  const finals = { loss: loss.map((c) => c[last]), accuracy: accuracy.map((c) => c[last]) };
  const finalLoss = finals.loss.map(mean);
  const best = argmin(finalLoss);
  return {
    result: {
      bestLr: lrs[best],
      trainLoss: finalLoss[best],
      trainLossSe: standardError(loss[best][last]),
      trainAccuracy: mean(accuracy[best][last]),
      trainAccuracySe: standardError(accuracy[best][last]),
      curve: epochs.map((epoch, i) => ({
        epoch,
        loss: mean(loss[best][i]),
        accuracy: mean(accuracy[best][i]),
      })),
      grid: lrs.map((lr, i) => ({ lr, loss: finalLoss[i], accuracy: mean(accuracy[i][last]) })),
    },
    finals,
  };
}

export const CONVEX_SELECTION =
  'Each method: the power-of-two lr with the lowest seed-mean final train loss (paper a, §4.2); accuracy is read at that lr. Intervals re-select the lr in every bootstrap resample of the seeds.';

/** Loss and accuracy of each method at its lr selected on the given seeds. */
type ConvexStats = Partial<Record<ConvexMethod, { loss: number; accuracy: number }>>;

interface ConvexClaim {
  claim: string;
  measures: Check['measures'];
  threshold: Threshold;
  value: (s: ConvexStats) => number;
}

/**
 * The experiments spec's pass criteria for B1 on one dataset. On separable data (both SF and LD
 * reach 100 % train accuracy) the loss goes to 0 and ratios of losses mean nothing: skipped.
 */
export function convexClaims(
  dataset: string,
  methods: readonly ConvexMethod[],
  separable: boolean,
): ConvexClaim[] {
  const claims: ConvexClaim[] = [];
  if (!methods.includes('schedule-free')) return claims;
  const sf = (s: ConvexStats) => s['schedule-free']!;
  if (methods.includes('linear-decay')) {
    const ld = (s: ConvexStats) => s['linear-decay']!;
    if (!separable)
      claims.push({
        claim: `${dataset}: SF loss / LD loss`,
        measures: 'optimization',
        threshold: { op: '≤', bound: 1.01 },
        value: (s) => sf(s).loss / ld(s).loss,
      });
    const gap = (s: ConvexStats) => 100 * (sf(s).accuracy - ld(s).accuracy);
    claims.push({
      claim: `${dataset}: SF − LD accuracy (pp)`,
      measures: 'optimization',
      threshold: { op: '≥', bound: -0.5 },
      value: gap,
    });
    if (dataset === 'glass')
      claims.push({
        claim: `${dataset}: SF ahead of LD in accuracy (pp)`,
        measures: 'optimization',
        threshold: { op: '>', bound: 0 },
        value: gap,
      });
  }
  const averaging = (['polyak', 'primal'] as const).filter((m) => methods.includes(m));
  if (averaging.length && !separable)
    claims.push({
      claim: `${dataset}: SF loss / min(Polyak, primal) loss`,
      measures: 'optimization',
      threshold: { op: '≤', bound: 1.001 },
      value: (s) => sf(s).loss / Math.min(...averaging.map((m) => s[m]!.loss)),
    });
  return claims;
}

/** Each method's loss and accuracy at the lr it selects on the given seeds (all, or a resample). */
export function convexStats(
  finals: Partial<Record<ConvexMethod, ConvexFinals>>,
  seeds?: ArrayLike<number>,
): ConvexStats {
  const stats: ConvexStats = {};
  for (const [name, f] of Object.entries(finals) as [ConvexMethod, ConvexFinals][]) {
    const best = argminMean(f.loss, seeds);
    stats[name] = {
      loss: resampledMean(f.loss[best], seeds),
      accuracy: resampledMean(f.accuracy[best], seeds),
    };
  }
  return stats;
}

/** The B1 claims with intervals from a seed bootstrap shared by all methods (seed s: same batch order). */
export function convexChecks(
  dataset: string,
  methods: ConvexResult['methods'],
  finals: Partial<Record<ConvexMethod, ConvexFinals>>,
  seeds: number,
  replicates = 2000,
): Check[] {
  const sf = methods['schedule-free'];
  const ld = methods['linear-decay'];
  const separable = ld !== undefined && sf !== undefined && ld.trainAccuracy === 1 && sf.trainAccuracy === 1;
  const claims = convexClaims(dataset, Object.keys(finals) as ConvexMethod[], separable);
  if (!claims.length) return [];
  const boot = bootstrap(
    seeds,
    (idx) => {
      const stats = convexStats(finals, idx);
      return claims.map((c) => c.value(stats));
    },
    { replicates, seed: 1 },
  );
  return claims.map((c, i) =>
    makeCheck({
      claim: c.claim,
      measures: c.measures,
      value: boot.estimates[i],
      interval: boot.intervals[i],
      uncertainty: `bootstrap over ${seeds} seeds, lr re-selected`,
      threshold: c.threshold,
    }),
  );
}

/** Runs B1 on one CSV (the shared layout: feature columns, then `label`). */
export function runConvex(
  file: string,
  partial: Partial<ConvexOptions> = {},
  reporter: Reporter = silentReporter,
): ConvexResult {
  const options = { ...DEFAULT_CONVEX, ...partial };
  const start = performance.now();
  const data = scaleToUnitBox(readCsv(file));
  const methods: ConvexResult['methods'] = {};
  const finals: Partial<Record<ConvexMethod, ConvexFinals>> = {};
  for (const name of options.methods) {
    const task = reporter.task(`B1 ${data.name} · ${name}`, options.epochs);
    const measured = measureConvex(data, convexMethod(name), options, () => task.tick());
    methods[name] = measured.result;
    finals[name] = measured.finals;
    const m = methods[name]!;
    task.done(`loss ${m.trainLoss.toFixed(4)}, accuracy ${(100 * m.trainAccuracy).toFixed(1)}%`);
  }
  return {
    experiment: 'convex',
    dataset: basename(file).replace(/\.csv$/i, ''),
    rows: data.rows,
    features: data.dims,
    classes: data.classes,
    config: options,
    machine: machineInfo(),
    seconds: (performance.now() - start) / 1000,
    selection: CONVEX_SELECTION,
    methods,
    checks: convexChecks(data.name, methods, finals, options.seeds, options.bootstrapReplicates),
  };
}
