/**
 * B1: convex multiclass logistic (softmax) regression, paper (a)'s §4.2 protocol: Adam base
 * (β2 = 0.95), batch 16, no weight decay, a power-of-two lr grid tuned separately for each method,
 * final train loss and accuracy at each method's best lr (argmin of the mean final train loss).
 */
import { basename } from 'node:path';
import { type Dataset, readCsv, scaleToUnitBox } from '../data.js';
import { type Reporter, silentReporter } from '../lib/console.js';
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
import { argmin, mean, powerGrid, standardError } from '../lib/stats.js';
import { softmaxLoss } from '../softmax.js';
import type { Check } from './robustness.js';

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
}

export const DEFAULT_CONVEX: ConvexOptions = {
  seeds: 10,
  epochs: 100,
  batchSize: 16,
  lrExponents: [-10, 5],
  methods: [...CONVEX_METHODS],
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

/** Tunes and summarises one method on one dataset. */
export function measureConvex(
  data: Dataset,
  method: Method,
  options: ConvexOptions,
  onEpoch?: () => void,
): ConvexMethodResult {
  const lrs = powerGrid(options.lrExponents[0], options.lrExponents[1]);
  const { epochs, loss, accuracy } = trainSoftmaxGrid(data, method, lrs, options, onEpoch);
  const last = epochs.length - 1;
  const finalLoss = loss.map((perCheckpoint) => mean(perCheckpoint[last]));
  const best = argmin(finalLoss);
  return {
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
  };
}

/** The experiments spec's pass criteria for B1 on one dataset. */
export function convexChecks(dataset: string, methods: ConvexResult['methods']): Check[] {
  const sf = methods['schedule-free'];
  const ld = methods['linear-decay'];
  const checks: Check[] = [];
  if (!sf) return checks;
  // On separable data the loss goes to 0 and ratios of losses mean nothing.
  const separable = ld !== undefined && ld.trainAccuracy === 1 && sf.trainAccuracy === 1;
  if (ld) {
    if (!separable) {
      const ratio = sf.trainLoss / ld.trainLoss;
      checks.push({
        claim: `${dataset}: SF loss / LD loss`,
        value: ratio,
        threshold: '≤ 1.01',
        pass: ratio <= 1.01,
      });
    }
    const gap = 100 * (sf.trainAccuracy - ld.trainAccuracy);
    checks.push({
      claim: `${dataset}: SF − LD accuracy (pp)`,
      value: gap,
      threshold: '≥ −0.5',
      pass: gap >= -0.5,
    });
    if (dataset === 'glass')
      checks.push({
        claim: `${dataset}: SF ahead of LD in accuracy (pp)`,
        value: gap,
        threshold: '> 0',
        pass: gap > 0,
      });
  }
  const averaging = [methods.polyak, methods.primal].filter((m) => m !== undefined);
  if (averaging.length && !separable) {
    const ratio = sf.trainLoss / Math.min(...averaging.map((m) => m.trainLoss));
    checks.push({
      claim: `${dataset}: SF loss / min(Polyak, primal) loss`,
      value: ratio,
      threshold: '≤ 1.001',
      pass: ratio <= 1.001,
    });
  }
  return checks;
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
  for (const name of options.methods) {
    const task = reporter.task(`B1 ${data.name} · ${name}`, options.epochs);
    methods[name] = measureConvex(data, convexMethod(name), options, () => task.tick());
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
    methods,
    checks: convexChecks(data.name, methods),
  };
}
