/**
 * B2: the anytime / Pareto-frontier claim of paper (a) (Fig. 1) at toy scale. One Schedule-Free
 * AdamW run per learning rate is evaluated at x after every epoch; AdamW + cosine runs of each
 * checkpoint's length are tuned separately. Both use a √2 lr grid. Schedule-Free's lr is chosen by
 * its anytime score (the area under its own log-objective curve over log-epochs, from the first
 * checkpoint to the last), so one run has to be good at every horizon; it is then compared with
 * the best cosine run of every length. MLP 64-64-10 on the digits data, tfjs wasm backend, coupled
 * L2 so the objective has an optimum.
 */
import { type Reporter, silentReporter } from '../lib/console.js';
import { bootstrap, pairedMeanDifference } from '../lib/intervals.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { defaultWorkers } from '../lib/pool.js';
import { anytimeScore, argminMean, insideGrid, resampledMean } from '../lib/selection.js';
import { argmin, mean, powerGrid } from '../lib/stats.js';
import { type Check, makeCheck } from './checks.js';
import { type DatasetSpec, datasetFor, type MlpJob, mlpPool, releaseDatasets } from './mlp-jobs.js';
import { type EpochRecord, useWasmBackend } from './tfjs-mlp.js';

export { digitsData } from './mlp-jobs.js';

export interface AnytimeOptions {
  seeds: number;
  /** Lengths of the cosine runs, in epochs; the Schedule-Free runs last the longest of them. */
  checkpoints: number[];
  /** Cosine lr grid 2^(k/2) for k from lo to hi (√2 spacing). */
  cosineLrHalfOctaves: [number, number];
  /** Schedule-Free lr grid 2^(k/2), as above. */
  sfLrHalfOctaves: [number, number];
  batchSize: number;
  hidden: number;
  warmupFraction: number;
  l2: number;
  testSize: number;
  /** Worker threads (1: run in this thread). Default: one per core. */
  workers?: number;
  /** Resamples of the bootstraps (over seeds, and over test examples). */
  bootstrapReplicates: number;
}

export const DEFAULT_ANYTIME: AnytimeOptions = {
  seeds: 8,
  checkpoints: [5, 10, 20, 40],
  cosineLrHalfOctaves: [-18, -4],
  sfLrHalfOctaves: [-18, -4],
  batchSize: 32,
  hidden: 64,
  warmupFraction: 0.05,
  l2: 1e-4,
  testSize: 360,
  bootstrapReplicates: 2000,
};

/** Seed-mean metrics at one epoch. */
export interface CurvePoint {
  epoch: number;
  trainObjective: number;
  testAccuracy: number;
  testLoss: number;
}

export interface AnytimeComparison {
  epoch: number;
  sfObjective: number;
  cosineObjective: number;
  /** SF objective / best cosine objective of this length, and its interval over seeds. */
  ratio: number;
  ratioInterval: [number, number];
  sfTestAccuracy: number;
  cosineTestAccuracy: number;
}

export interface AnytimeResult {
  experiment: 'anytime';
  config: AnytimeOptions;
  machine: MachineInfo;
  backend: string;
  seconds: number;
  search: { workers: number; stages: Array<{ stage: string; jobs: number; seconds: number }> };
  /** The selection rules, in words. */
  selection: string;
  scheduleFree: {
    /** The lr chosen by the anytime score. */
    lr: number;
    lrInside: boolean;
    curve: CurvePoint[];
    /** The best lr at each checkpoint on its own (for the horizon-independence check). */
    bestLrAt: Record<string, number>;
    grid: Array<{ lr: number; score: number; trainObjective: Record<string, number> }>;
  };
  cosine: Array<{
    epochs: number;
    lr: number;
    lrInside: boolean;
    trainObjective: number;
    testAccuracy: number;
    curve: CurvePoint[];
    grid: Array<{ lr: number; trainObjective: number }>;
  }>;
  comparison: AnytimeComparison[];
  checks: Check[];
}

export const ANYTIME_SELECTION =
  'Cosine run of each length: the lr with the lowest seed-mean final train objective. Schedule-Free: the lr with the lowest anytime score, the mean of log(seed-mean train objective) over log(epoch) from the first checkpoint to the last (trapezoid rule), so every doubling of the horizon counts equally. Both on a √2 grid.';

const meanCurve = (records: EpochRecord[]): CurvePoint[] =>
  records.map((r) => ({
    epoch: r.epoch,
    trainObjective: mean(r.trainObjective!),
    testAccuracy: mean(r.test!.accuracy),
    testLoss: mean(r.test!.loss),
  }));

/** The anytime score over the checkpoints' range (just the log objective when there is one checkpoint). */
function sfScore(curve: readonly number[], checkpoints: readonly number[]): number {
  const [first, last] = [checkpoints[0], checkpoints[checkpoints.length - 1]];
  return first < last ? anytimeScore(curve, first, last) : Math.log(curve[last - 1]);
}

/** Per seed objective of every run: sf[lr][epoch − 1][seed], cosine[length index][lr][seed] (final). */
export interface AnytimeObjectives {
  sf: number[][][];
  cosine: number[][][];
}

/**
 * The seed-level statistics of B2 on a set of seeds (all of them, or a bootstrap resample): the
 * selections are re-made on those seeds, then SF / best cosine at each checkpoint and the factor
 * between the SF lr chosen at the last checkpoint and at the first at least a quarter of it.
 */
export function anytimeStatistics(
  objectives: AnytimeObjectives,
  sfLrs: readonly number[],
  checkpoints: readonly number[],
  seeds?: ArrayLike<number>,
): { sfChoice: number; cosineChoice: number[]; ratios: number[]; horizonFactor: number } {
  const horizon = checkpoints[checkpoints.length - 1];
  const sfMeans = objectives.sf.map((run) => run.map((epoch) => resampledMean(epoch, seeds)));
  const sfChoice = argmin(sfMeans.map((curve) => sfScore(curve, checkpoints)));
  const cosineChoice = objectives.cosine.map((runs) => argminMean(runs, seeds));
  const ratios = checkpoints.map(
    (e, i) => sfMeans[sfChoice][e - 1] / resampledMean(objectives.cosine[i][cosineChoice[i]], seeds),
  );
  const quarter = checkpoints.find((e) => e >= horizon / 4) ?? horizon;
  const bestAt = (e: number) => sfLrs[argmin(sfMeans.map((curve) => curve[e - 1]))];
  const lrLate = bestAt(horizon);
  const lrEarly = bestAt(quarter);
  return { sfChoice, cosineChoice, ratios, horizonFactor: Math.max(lrLate / lrEarly, lrEarly / lrLate) };
}

/** Runs B2. */
export async function runAnytime(
  partial: Partial<AnytimeOptions> = {},
  reporter: Reporter = silentReporter,
): Promise<AnytimeResult> {
  const options = { ...DEFAULT_ANYTIME, ...partial };
  const backend = await useWasmBackend();
  const start = performance.now();
  const dataset: DatasetSpec = { name: 'digits', testSize: options.testSize };
  const data = datasetFor(dataset);
  const n = data.train.x.shape[0];
  const dims = data.train.x.shape[1];
  const classes = data.classes;
  const stepsPerEpoch = Math.ceil(n / options.batchSize);
  const checkpoints = [...options.checkpoints].sort((a, b) => a - b);
  const horizon = checkpoints[checkpoints.length - 1];
  const config = (epochs: number) => ({
    layers: [dims, options.hidden, classes],
    seeds: options.seeds,
    batchSize: options.batchSize,
    epochs,
    l2: options.l2,
  });
  const everyEpoch = (epochs: number) => Array.from({ length: epochs }, (_, i) => i + 1);
  const sfLrs = powerGrid(...options.sfLrHalfOctaves, 2);
  const cosLrs = powerGrid(...options.cosineLrHalfOctaves, 2);
  const sfJobs: MlpJob[] = sfLrs.map((lr) => ({
    dataset,
    config: config(horizon),
    spec: {
      kind: 'schedule-free',
      lr,
      betas: [0.9, 0.999],
      warmupSteps: Math.round(options.warmupFraction * horizon * stepsPerEpoch),
      weightDecay: 0,
    },
    plan: { epochs: everyEpoch(horizon), train: true, heldOut: ['test'], perExampleAt: checkpoints },
  }));
  const cosineJobs: MlpJob[] = checkpoints.flatMap((epochs) => {
    const totalSteps = epochs * stepsPerEpoch;
    return cosLrs.map(
      (lr): MlpJob => ({
        dataset,
        config: config(epochs),
        spec: {
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
        plan: { epochs: everyEpoch(epochs), train: true, heldOut: ['test'], perExampleAt: [epochs] },
      }),
    );
  });
  // Longest runs first, so the threads finish together.
  const jobs = [...sfJobs, ...cosineJobs];
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].config.epochs - jobs[a].config.epochs);
  const workers = Math.max(1, options.workers ?? defaultWorkers());
  const pool = mlpPool(workers);
  const task = reporter.task(
    `B2 anytime (${sfLrs.length} SF + ${cosineJobs.length} cosine runs)`,
    jobs.reduce((s, j) => s + j.config.epochs, 0),
  );
  let results: EpochRecord[][];
  try {
    const sorted = await pool.run(
      order.map((i) => jobs[i]),
      (i) => task.tick(jobs[order[i]].config.epochs),
    );
    results = new Array(jobs.length);
    order.forEach((jobIndex, i) => {
      results[jobIndex] = sorted[i];
    });
  } finally {
    await pool.close();
    releaseDatasets();
  }
  const searchSeconds = (performance.now() - start) / 1000;
  const sfRuns = results.slice(0, sfJobs.length);
  const cosineRuns = checkpoints.map((_, i) =>
    results.slice(sfJobs.length + i * cosLrs.length, sfJobs.length + (i + 1) * cosLrs.length),
  );
  const objectives: AnytimeObjectives = {
    sf: sfRuns.map((run) => run.map((r) => r.trainObjective!)),
    cosine: cosineRuns.map((runs) => runs.map((run) => run[run.length - 1].trainObjective!)),
  };
  const chosen = anytimeStatistics(objectives, sfLrs, checkpoints);
  task.done(`SF lr 2^${(Math.log2(sfLrs[chosen.sfChoice])).toFixed(1)}`);

  // Seed bootstrap of the objective claims, with every selection re-made in each resample.
  const seedBoot = bootstrap(
    options.seeds,
    (idx) => {
      const s = anytimeStatistics(objectives, sfLrs, checkpoints, idx);
      return [...s.ratios, s.horizonFactor];
    },
    { replicates: options.bootstrapReplicates, seed: 2 },
  );

  const sfCurve = meanCurve(sfRuns[chosen.sfChoice]);
  const cosine: AnytimeResult['cosine'] = checkpoints.map((epochs, i) => {
    const runs = cosineRuns[i];
    const best = chosen.cosineChoice[i];
    const curve = meanCurve(runs[best]);
    return {
      epochs,
      lr: cosLrs[best],
      lrInside: insideGrid(best, cosLrs.length),
      trainObjective: curve[epochs - 1].trainObjective,
      testAccuracy: curve[epochs - 1].testAccuracy,
      curve,
      grid: cosLrs.map((lr, j) => ({ lr, trainObjective: mean(objectives.cosine[i][j]) })),
    };
  });
  const accuracyAt = (run: EpochRecord[], epoch: number) => {
    const perSeed = run.find((r) => r.epoch === epoch)!.perExample!.correct;
    return Float64Array.from(perSeed[0], (_, k) => perSeed.reduce((s, c) => s + c[k], 0) / perSeed.length);
  };
  const comparison: AnytimeComparison[] = [];
  const checks: Check[] = [];
  const seedText = `bootstrap over ${options.seeds} seeds, lrs re-selected`;
  checkpoints.forEach((epoch, i) => {
    const sf = sfCurve[epoch - 1];
    comparison.push({
      epoch,
      sfObjective: sf.trainObjective,
      cosineObjective: cosine[i].trainObjective,
      ratio: chosen.ratios[i],
      ratioInterval: seedBoot.intervals[i],
      sfTestAccuracy: sf.testAccuracy,
      cosineTestAccuracy: cosine[i].testAccuracy,
    });
    checks.push(
      makeCheck({
        claim: `SF objective / best cosine objective at ${epoch} epochs`,
        measures: 'optimization',
        value: chosen.ratios[i],
        interval: seedBoot.intervals[i],
        uncertainty: seedText,
        threshold: { op: '≤', bound: 1.1 },
      }),
    );
  });
  checkpoints.forEach((epoch, i) => {
    const gap = pairedMeanDifference(
      accuracyAt(sfRuns[chosen.sfChoice], epoch),
      accuracyAt(cosineRuns[i][chosen.cosineChoice[i]], epoch),
      { replicates: options.bootstrapReplicates, seed: 3 + i },
    );
    checks.push(
      makeCheck({
        claim: `SF − cosine test accuracy at ${epoch} epochs (pp)`,
        measures: 'generalization',
        value: 100 * gap.value,
        interval: [100 * gap.interval[0], 100 * gap.interval[1]],
        uncertainty: `paired bootstrap over ${options.testSize} test examples (seed-averaged)`,
        threshold: { op: '≥', bound: -1 },
      }),
    );
  });
  const quarter = checkpoints.find((e) => e >= horizon / 4) ?? horizon;
  if (quarter !== horizon) {
    checks.push(
      makeCheck({
        claim: `best SF lr at ${horizon} vs at ${quarter} epochs (factor)`,
        measures: 'optimization',
        value: chosen.horizonFactor,
        interval: seedBoot.intervals[checkpoints.length],
        uncertainty: seedText,
        threshold: { op: '≤', bound: 2 },
      }),
    );
  }
  const sfMeans = objectives.sf.map((run) => run.map((epoch) => mean(epoch)));
  return {
    experiment: 'anytime',
    config: options,
    machine: machineInfo(),
    backend,
    seconds: (performance.now() - start) / 1000,
    search: { workers, stages: [{ stage: 'all runs', jobs: jobs.length, seconds: searchSeconds }] },
    selection: ANYTIME_SELECTION,
    scheduleFree: {
      lr: sfLrs[chosen.sfChoice],
      lrInside: insideGrid(chosen.sfChoice, sfLrs.length),
      curve: sfCurve,
      bestLrAt: Object.fromEntries(
        checkpoints.map((e) => [String(e), sfLrs[argmin(sfMeans.map((curve) => curve[e - 1]))]]),
      ),
      grid: sfLrs.map((lr, j) => ({
        lr,
        score: sfScore(sfMeans[j], checkpoints),
        trainObjective: Object.fromEntries(checkpoints.map((e) => [String(e), sfMeans[j][e - 1]])),
      })),
    },
    cosine,
    comparison,
    checks,
  };
}
