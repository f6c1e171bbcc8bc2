/**
 * ScheduleFree+ (`AdamCScheduleFreePlusPaper`) on B5: the MLP on MNIST, under B5's protocol — base
 * lr × weight decay tuned on the validation split by the same coarse-to-fine search (a factor-4 lr
 * grid at four weight decays, then factor-2 refinement), the selected setting re-run with every
 * metric, test rows only reported — against Schedule-Free AdamW, AdamW + cosine and AdamW + linear
 * decay.
 *
 * The three B5 methods are either searched here too, or their search is taken from an earlier B5
 * run (`pnpm bench mnist`) with the same data, network, seeds and grids: then only their selected
 * settings are re-run, each checked against the validation loss that run recorded, so every method
 * had the same search budget on the same split.
 */
import type { Reporter } from '../lib/console.js';
import {
  DEFAULT_MNIST,
  type FixedSetting,
  MNIST_METHODS,
  type MnistMethod,
  type MnistOptions,
  type MnistResult,
  runMnist,
  SF_PLUS,
} from './mnist.js';

/** The options that must agree for an earlier run's search to be reused (same runs, same scores). */
const SAME_RUNS = [
  'seeds',
  'epochs',
  'batchSize',
  'hidden',
  'testSize',
  'validationSize',
  'splitSeed',
  'warmupFraction',
  'limit',
  'weightDecays',
  'sfLrExponents',
  'adamLrExponents',
  'coarseStep',
  'lrLimits',
] as const satisfies ReadonlyArray<keyof MnistOptions>;

/**
 * The selected settings and searches of B5's methods in an earlier run, to reuse. Throws if the run
 * trained other data, another network or other seeds, or searched other grids, than `options`.
 */
export function fixedSettingsFrom(
  earlier: MnistResult,
  options: MnistOptions,
): Partial<Record<MnistMethod, FixedSetting>> {
  const differ = SAME_RUNS.filter(
    (key) => JSON.stringify(earlier.config[key]) !== JSON.stringify(options[key]),
  );
  if (differ.length) {
    throw new Error(
      `sfplus --baseline: the earlier run differs in ${differ
        .map((k) => `${k} (${JSON.stringify(earlier.config[k])}, here ${JSON.stringify(options[k])})`)
        .join(', ')}; run it with the same options, or omit --baseline to search every method here.`,
    );
  }
  const fixed: Partial<Record<MnistMethod, FixedSetting>> = {};
  for (const method of MNIST_METHODS) {
    const m = earlier.methods[method];
    if (!m) continue;
    const recorded = m.grid.find((g) => g.lr === m.lr && g.weightDecay === m.weightDecay);
    if (!recorded) {
      throw new Error(`sfplus --baseline: ${method}'s selected setting is missing from its recorded grid.`);
    }
    fixed[method] = {
      lr: m.lr,
      weightDecay: m.weightDecay,
      validationLoss: recorded.validationLoss,
      grid: m.grid,
    };
  }
  return fixed;
}

/** Runs ScheduleFree+ next to B5's methods (searching those too unless `earlier` is given). */
export function runScheduleFreePlus(
  partial: Partial<MnistOptions> = {},
  earlier?: MnistResult,
  reporter?: Reporter,
): Promise<MnistResult> {
  const options: MnistOptions = { ...DEFAULT_MNIST, methods: [...MNIST_METHODS, SF_PLUS], ...partial };
  const fixed = earlier ? fixedSettingsFrom(earlier, options) : undefined;
  return runMnist({ ...options, ...(fixed ? { fixed } : {}) }, reporter);
}
