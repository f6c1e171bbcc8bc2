/**
 * B2: the anytime / Pareto-frontier claim of paper (a) (Fig. 1) at toy scale. One Schedule-Free
 * AdamW run (lr chosen at the longest horizon) is evaluated at x at every epoch and compared, at
 * each checkpoint, with AdamW + cosine runs of exactly that length, each tuned on its own lr grid.
 * MLP 64-64-10 on the digits data, tfjs wasm backend, coupled L2 so the objective has an optimum.
 */

import { bundledData, readCsv, scaleToUnitBox } from '../data.js';
import { type Reporter, silentReporter } from '../lib/console.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { argmin, mean, powerGrid } from '../lib/stats.js';
import type { Check } from './robustness.js';
import {
  type EpochMetrics,
  splitRows,
  type TensorData,
  toTensorData,
  trainMlp,
  useWasmBackend,
} from './tfjs-mlp.js';

export interface AnytimeOptions {
  seeds: number;
  /** Lengths of the cosine runs, in epochs; the Schedule-Free run lasts the longest of them. */
  checkpoints: number[];
  /** Cosine lr grid 2^k. */
  cosineLrExponents: [number, number];
  /** Schedule-Free lr grid 2^k. */
  sfLrExponents: [number, number];
  batchSize: number;
  hidden: number;
  warmupFraction: number;
  l2: number;
  testSize: number;
}

export const DEFAULT_ANYTIME: AnytimeOptions = {
  seeds: 3,
  checkpoints: [5, 10, 20, 40],
  cosineLrExponents: [-12, -2],
  sfLrExponents: [-12, -2],
  batchSize: 32,
  hidden: 64,
  warmupFraction: 0.05,
  l2: 1e-4,
  testSize: 360,
};

/** Seed-mean metrics at one epoch. */
export interface CurvePoint {
  epoch: number;
  trainObjective: number;
  testAccuracy: number;
  testLoss: number;
}

export interface AnytimeResult {
  experiment: 'anytime';
  config: AnytimeOptions;
  machine: MachineInfo;
  backend: string;
  seconds: number;
  scheduleFree: {
    /** The lr chosen at the longest horizon. */
    lr: number;
    curve: CurvePoint[];
    /** The best lr at each checkpoint (for the horizon-independence check). */
    bestLrAt: Record<string, number>;
    grid: Array<{ lr: number; trainObjective: Record<string, number> }>;
  };
  cosine: Array<{
    epochs: number;
    lr: number;
    trainObjective: number;
    testAccuracy: number;
    curve: CurvePoint[];
    grid: Array<{ lr: number; trainObjective: number }>;
  }>;
  /** At each checkpoint: SF (one run) against the best cosine run of that length. */
  comparison: Array<{
    epoch: number;
    sfObjective: number;
    cosineObjective: number;
    ratio: number;
    sfTestAccuracy: number;
    cosineTestAccuracy: number;
  }>;
  checks: Check[];
}

const meanCurve = (records: EpochMetrics[]): CurvePoint[] =>
  records.map((r) => ({
    epoch: r.epoch,
    trainObjective: mean(r.trainObjective),
    testAccuracy: mean(r.testAccuracy),
    testLoss: mean(r.testLoss),
  }));

/** The digits data (1797 rows, 8×8 pixels) scaled to [−1, 1], split train/test with a fixed seed. */
export function digitsData(testSize: number): TensorData {
  const data = scaleToUnitBox(readCsv(bundledData('digits.csv')));
  const { train, test } = splitRows(data.rows, testSize, 0);
  return toTensorData(data.features, data.labels, data.dims, data.classes, train, test);
}

export function anytimeChecks(
  result: Pick<AnytimeResult, 'comparison' | 'scheduleFree' | 'config'>,
): Check[] {
  const checks: Check[] = result.comparison.map((c) => ({
    claim: `SF objective / best cosine objective at ${c.epoch} epochs`,
    value: c.ratio,
    threshold: '≤ 1.1',
    pass: c.ratio <= 1.1,
  }));
  const cps = result.config.checkpoints;
  for (const c of result.comparison.filter((c) => c.epoch >= cps[cps.length - 1] / 2)) {
    const gap = 100 * (c.sfTestAccuracy - c.cosineTestAccuracy);
    checks.push({
      claim: `SF − cosine test accuracy at ${c.epoch} epochs (pp)`,
      value: gap,
      threshold: '≥ −1',
      pass: gap >= -1,
    });
  }
  const quarter = cps.find((e) => e >= cps[cps.length - 1] / 4);
  const early = quarter !== undefined ? result.scheduleFree.bestLrAt[String(quarter)] : undefined;
  if (early !== undefined) {
    const factor = Math.max(result.scheduleFree.lr / early, early / result.scheduleFree.lr);
    checks.push({
      claim: `SF lr chosen at ${cps[cps.length - 1]} epochs vs best at ${quarter} (factor)`,
      value: factor,
      threshold: '≤ 2',
      pass: factor <= 2,
    });
  }
  return checks;
}

/** Runs B2. */
export async function runAnytime(
  partial: Partial<AnytimeOptions> = {},
  reporter: Reporter = silentReporter,
): Promise<AnytimeResult> {
  const options = { ...DEFAULT_ANYTIME, ...partial };
  const backend = await useWasmBackend();
  const start = performance.now();
  const data = digitsData(options.testSize);
  const n = data.xTrain.shape[0];
  const stepsPerEpoch = Math.ceil(n / options.batchSize);
  const horizon = Math.max(...options.checkpoints);
  const config = (epochs: number) => ({
    layers: [data.xTrain.shape[1], options.hidden, data.classes],
    seeds: options.seeds,
    batchSize: options.batchSize,
    epochs,
    l2: options.l2,
  });
  const everyEpoch = (epochs: number) => Array.from({ length: epochs }, (_, i) => i + 1);
  try {
    // One Schedule-Free run per lr, evaluated at x after every epoch.
    const sfLrs = powerGrid(...options.sfLrExponents);
    const sfTask = reporter.task(`B2 schedule-free (${horizon} ep)`, sfLrs.length * horizon);
    const sfRuns = sfLrs.map((lr) =>
      trainMlp(
        data,
        config(horizon),
        {
          kind: 'schedule-free',
          lr,
          betas: [0.9, 0.999],
          warmupSteps: Math.round(options.warmupFraction * horizon * stepsPerEpoch),
          weightDecay: 0,
        },
        everyEpoch(horizon),
        () => sfTask.tick(),
      ),
    );
    const sfAt = (run: EpochMetrics[], epoch: number) => mean(run[epoch - 1].trainObjective);
    const sfBest = argmin(sfRuns.map((run) => sfAt(run, horizon)));
    sfTask.done(`lr 2^${Math.log2(sfLrs[sfBest])}`);
    const bestLrAt = Object.fromEntries(
      options.checkpoints.map((e) => [String(e), sfLrs[argmin(sfRuns.map((run) => sfAt(run, e)))]]),
    );

    // Cosine runs of each length, each with its own lr sweep (5 % warmup).
    const cosLrs = powerGrid(...options.cosineLrExponents);
    const cosine: AnytimeResult['cosine'] = [];
    for (const epochs of options.checkpoints) {
      const task = reporter.task(`B2 cosine ${epochs} ep`, cosLrs.length * epochs);
      const totalSteps = epochs * stepsPerEpoch;
      const runs = cosLrs.map((lr) =>
        trainMlp(
          data,
          config(epochs),
          {
            kind: 'adam',
            schedule: {
              kind: 'cosine',
              lr,
              totalSteps,
              warmupSteps: Math.round(options.warmupFraction * totalSteps),
            },
            betas: [0.9, 0.999],
            weightDecay: 0,
          },
          everyEpoch(epochs),
          () => task.tick(),
        ),
      );
      const finals = runs.map((run) => mean(run[epochs - 1].trainObjective));
      const best = argmin(finals);
      const curve = meanCurve(runs[best]);
      cosine.push({
        epochs,
        lr: cosLrs[best],
        trainObjective: finals[best],
        testAccuracy: curve[epochs - 1].testAccuracy,
        curve,
        grid: cosLrs.map((lr, i) => ({ lr, trainObjective: finals[i] })),
      });
      task.done(`lr 2^${Math.log2(cosLrs[best])}`);
    }

    const sfCurve = meanCurve(sfRuns[sfBest]);
    const comparison = cosine.map((c) => {
      const sf = sfCurve[c.epochs - 1];
      return {
        epoch: c.epochs,
        sfObjective: sf.trainObjective,
        cosineObjective: c.trainObjective,
        ratio: sf.trainObjective / c.trainObjective,
        sfTestAccuracy: sf.testAccuracy,
        cosineTestAccuracy: c.testAccuracy,
      };
    });
    const scheduleFree: AnytimeResult['scheduleFree'] = {
      lr: sfLrs[sfBest],
      curve: sfCurve,
      bestLrAt,
      grid: sfLrs.map((lr, i) => ({
        lr,
        trainObjective: Object.fromEntries(options.checkpoints.map((e) => [String(e), sfAt(sfRuns[i], e)])),
      })),
    };
    return {
      experiment: 'anytime',
      config: options,
      machine: machineInfo(),
      backend,
      seconds: (performance.now() - start) / 1000,
      scheduleFree,
      cosine,
      comparison,
      checks: anytimeChecks({ comparison, scheduleFree, config: options }),
    };
  } finally {
    for (const t of Object.values(data)) if (typeof t === 'object') t.dispose();
  }
}
