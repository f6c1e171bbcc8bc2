/**
 * B4: robustness to a misspecified learning rate (Attia & Koren 2025, plus Schedule-Free as a new
 * data point). Streaming logistic and LAD regression, plain SGD with several schedules, Polyak
 * averaging and Schedule-Free SGD. Each method is tuned on a √2 grid; R(ρ) is the median final
 * excess loss at ρ·η* over that at η*.
 */
import { type Reporter, silentReporter } from '../lib/console.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { averagedSgd, type Method, scheduleFreeSgd, sgdWith, shapes } from '../lib/methods.js';
import { deriveSeed, Rng } from '../lib/rng.js';
import { argmin, logLogSlope, median } from '../lib/stats.js';
import { type StreamingProblem, type StreamingProblemName, streamingProblem } from './streaming.js';

/** The methods of B4, in the order they are reported. */
export const ROBUSTNESS_METHODS = [
  'fixed',
  'inverse-sqrt',
  'linear',
  'cosine',
  'polynomial-2',
  'polyak',
  'schedule-free',
] as const;
export type RobustnessMethod = (typeof ROBUSTNESS_METHODS)[number];

export function robustnessMethod(name: RobustnessMethod): Method {
  switch (name) {
    case 'polyak':
      return averagedSgd(name, 0);
    case 'schedule-free':
      return scheduleFreeSgd(name, { momentum: 0.9 });
    default:
      return sgdWith(name, shapes[name]);
  }
}

export interface RobustnessOptions {
  problems: StreamingProblemName[];
  methods: RobustnessMethod[];
  seeds: number;
  steps: number;
  dims: number;
  /** Grid 2^(k/2) for k in [lo, hi]. */
  gridHalfOctaves: [number, number];
  /** Misspecification factors ρ = 2^j for these j (R(ρ) is reported for each). */
  rhoExponents: number[];
  /** ρ range of the log–log slope fit. */
  slopeRange: [number, number];
  /** Seed of the problem instance (w*); run seeds are 0..seeds−1. */
  problemSeed: number;
}

export const DEFAULT_ROBUSTNESS: RobustnessOptions = {
  problems: ['logistic', 'lad'],
  methods: [...ROBUSTNESS_METHODS],
  seeds: 20,
  steps: 4000,
  dims: 10,
  gridHalfOctaves: [-24, 8],
  rhoExponents: [-4, -3, -2, -1, 0, 1, 2, 3, 4, 6],
  slopeRange: [2, 16],
  problemSeed: 0,
};

export interface MethodRobustness {
  bestLr: number;
  /** Log–log slope of R(ρ) over the slope range. */
  slope: number;
  /** R(ρ) by ρ, e.g. `"0.25"`, `"16"`. */
  ratios: Record<string, number>;
  /** Worst (min over a ratio-ρ grid) / (best over the fine grid), over the grid's offsets, by ρ. */
  coarseGridRegret: Record<string, number>;
  /** Median (and quartiles) of the final excess loss at every learning rate run. */
  curve: Array<{ lr: number; median: number; q25: number; q75: number }>;
}

export interface RobustnessResult {
  experiment: 'robustness';
  config: RobustnessOptions;
  machine: MachineInfo;
  seconds: number;
  problems: Partial<
    Record<StreamingProblemName, { methods: Partial<Record<RobustnessMethod, MethodRobustness>> }>
  >;
  checks: Check[];
}

/** A claim from the experiments spec, evaluated on this run. */
export interface Check {
  claim: string;
  value: number;
  threshold: string;
  pass: boolean;
}

/**
 * Final excess loss of every (lr, seed) run of a method: all seeds of one lr share one optimizer
 * over concatenated parameters (the optimizers are elementwise), and every method sees the same
 * sample stream for a given seed (common random numbers).
 */
export function simulateStreaming(
  problem: StreamingProblem,
  method: Method,
  lrs: readonly number[],
  seeds: number,
  steps: number,
  onStep?: () => void,
): number[][] {
  const d = problem.dims;
  const runs = lrs.map((lr) => {
    const w = new Float64Array(seeds * d);
    const g = new Float64Array(seeds * d);
    return { w, g, grads: { w: g }, run: method.create({ w }, lr, steps) };
  });
  const rngs = Array.from({ length: seeds }, (_, s) => new Rng(deriveSeed(s, problem.name, 'stream')));
  const x = new Float64Array(seeds * d);
  const y = new Float64Array(seeds);
  for (let t = 0; t < steps; t++) {
    for (let s = 0; s < seeds; s++) y[s] = problem.sample(rngs[s], x, s * d);
    for (const r of runs) {
      for (let s = 0; s < seeds; s++) problem.gradient(r.w, x, y[s], s * d, r.g);
      r.run.step(r.grads);
    }
    onStep?.();
  }
  return runs.map((r) => {
    const at = r.run.evalPoint().w;
    return Array.from({ length: seeds }, (_, s) => problem.excess(at, s * d));
  });
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
};

/** The worst, over a coarse grid's offsets, of (best on that grid) / (best on the fine grid). */
export function coarseGridRegret(
  mediansByK: Map<number, number>,
  gridK: readonly number[],
  stepK: number,
): number {
  const best = Math.min(...gridK.map((k) => mediansByK.get(k)!));
  let worst = 1;
  for (let offset = 0; offset < stepK; offset++) {
    const members = gridK.filter((k) => (((k - gridK[0] - offset) % stepK) + stepK) % stepK === 0);
    worst = Math.max(worst, Math.min(...members.map((k) => mediansByK.get(k)!)) / best);
  }
  return worst;
}

/** Tunes one method on one problem and measures R(ρ). */
export function measureRobustness(
  problem: StreamingProblem,
  method: Method,
  options: RobustnessOptions,
  onStep?: () => void,
): MethodRobustness {
  const lrOf = (k: number) => 2 ** (k / 2);
  const [lo, hi] = options.gridHalfOctaves;
  const gridK = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const finals = new Map<number, number[]>();
  const runKs = (ks: number[]) => {
    const results = simulateStreaming(problem, method, ks.map(lrOf), options.seeds, options.steps, onStep);
    ks.forEach((k, i) => {
      finals.set(k, results[i]);
    });
  };
  runKs(gridK);
  const medians = new Map(gridK.map((k) => [k, median(finals.get(k)!)]));
  const bestK = gridK[argmin(gridK.map((k) => medians.get(k)!))];
  const wanted = options.rhoExponents.map((j) => bestK + 2 * j);
  const missing = wanted.filter((k) => !finals.has(k));
  if (missing.length) runKs(missing);
  for (const k of missing) medians.set(k, median(finals.get(k)!));
  const ratios: Record<string, number> = {};
  for (const j of options.rhoExponents)
    ratios[String(2 ** j)] = medians.get(bestK + 2 * j)! / medians.get(bestK)!;
  const fitRhos = options.rhoExponents
    .map((j) => 2 ** j)
    .filter((r) => r >= options.slopeRange[0] && r <= options.slopeRange[1]);
  const coarseGridRegretByRho: Record<string, number> = {};
  for (const j of [1, 2, 3, 4])
    coarseGridRegretByRho[String(2 ** j)] = coarseGridRegret(medians, gridK, 2 * j);
  const allK = [...finals.keys()].sort((a, b) => a - b);
  return {
    bestLr: lrOf(bestK),
    slope: logLogSlope(
      fitRhos,
      fitRhos.map((r) => ratios[String(r)]),
    ),
    ratios,
    coarseGridRegret: coarseGridRegretByRho,
    curve: allK.map((k) => {
      const v = finals.get(k)!;
      return { lr: lrOf(k), median: medians.get(k)!, q25: quantile(v, 0.25), q75: quantile(v, 0.75) };
    }),
  };
}

/** The pass criteria of the experiments spec for B4, on whatever methods and problems were run. */
export function robustnessChecks(result: RobustnessResult['problems']): Check[] {
  const checks: Check[] = [];
  for (const [problem, { methods }] of Object.entries(result) as [
    StreamingProblemName,
    { methods: Partial<Record<RobustnessMethod, MethodRobustness>> },
  ][]) {
    for (const name of ['fixed', 'inverse-sqrt'] as const) {
      const m = methods[name];
      if (m)
        checks.push({
          claim: `${problem}: ${name} slope`,
          value: m.slope,
          threshold: '≥ 0.8',
          pass: m.slope >= 0.8,
        });
    }
    for (const name of ['linear', 'cosine', 'polynomial-2'] as const) {
      const m = methods[name];
      if (!m) continue;
      checks.push({
        claim: `${problem}: ${name} slope`,
        value: m.slope,
        threshold: '≤ 0.6',
        pass: m.slope <= 0.6,
      });
      const fixed = methods.fixed?.ratios['16'];
      if (fixed !== undefined) {
        const v = m.ratios['16'] / fixed;
        checks.push({
          claim: `${problem}: ${name} R(16) / fixed R(16)`,
          value: v,
          threshold: '≤ 0.4',
          pass: v <= 0.4,
        });
      }
    }
    const sf = methods['schedule-free'];
    if (sf) {
      if (problem === 'logistic')
        checks.push({
          claim: `${problem}: schedule-free R(8)`,
          value: sf.ratios['8'],
          threshold: '≤ 4',
          pass: sf.ratios['8'] <= 4,
        });
      const fixed = methods.fixed?.ratios['8'];
      if (fixed !== undefined) {
        const v = sf.ratios['8'] / fixed;
        checks.push({
          claim: `${problem}: schedule-free R(8) / fixed R(8)`,
          value: v,
          threshold: '≤ 0.6',
          pass: v <= 0.6,
        });
      }
    }
  }
  return checks;
}

/**
 * The spec's horizon check: rerun at another T, the slopes of the schedules (not of the averaging
 * methods, whose tuned lr sits near a stability edge) should move by at most 0.15.
 */
export function slopeChangeChecks(current: RobustnessResult, baseline: RobustnessResult): Check[] {
  const checks: Check[] = [];
  const tags = `T = ${baseline.config.steps} → ${current.config.steps}`;
  for (const [problem, p] of Object.entries(current.problems)) {
    for (const name of ['fixed', 'inverse-sqrt', 'linear', 'cosine', 'polynomial-2'] as const) {
      const now = p?.methods[name]?.slope;
      const before = baseline.problems[problem as StreamingProblemName]?.methods[name]?.slope;
      if (now === undefined || before === undefined) continue;
      const change = Math.abs(now - before);
      checks.push({
        claim: `${problem}: ${name} slope change, ${tags}`,
        value: change,
        threshold: '≤ 0.15',
        pass: change <= 0.15,
      });
    }
  }
  return checks;
}

/** Runs B4. */
export function runRobustness(
  partial: Partial<RobustnessOptions> = {},
  reporter: Reporter = silentReporter,
): RobustnessResult {
  const options = { ...DEFAULT_ROBUSTNESS, ...partial };
  const start = performance.now();
  const problems: RobustnessResult['problems'] = {};
  const [lo, hi] = options.gridHalfOctaves;
  for (const name of options.problems) {
    const problem = streamingProblem(name, options.dims, options.problemSeed);
    const methods: Partial<Record<RobustnessMethod, MethodRobustness>> = {};
    for (const m of options.methods) {
      // Grid runs plus up to a handful of extra lrs for ρ·η* outside the grid.
      const task = reporter.task(`B4 ${name} · ${m}`, (hi - lo + 1) * options.steps);
      methods[m] = measureRobustness(problem, robustnessMethod(m), options, () => task.tick());
      task.done(`slope ${methods[m]!.slope.toFixed(2)}`);
    }
    problems[name] = { methods };
  }
  return {
    experiment: 'robustness',
    config: options,
    machine: machineInfo(),
    seconds: (performance.now() - start) / 1000,
    problems,
    checks: robustnessChecks(problems),
  };
}
