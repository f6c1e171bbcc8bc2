import type { ReplayBackend } from './backend.js';
import type { CaseSpec } from './cases.js';

/** A small seeded PRNG (mulberry32), so random cases are reproducible from their seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples via Box–Muller. */
function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const pick = <V>(random: () => number, values: readonly V[]): V =>
  values[Math.floor(random() * values.length)];
const uniform = (random: () => number, lo: number, hi: number) => lo + (hi - lo) * random();

/** Random options for a wrapper case: the wrapper's, and a random base optimizer. */
function randomWrapperOptions(random: () => number, optimizer: string): Pick<CaseSpec, 'options' | 'base'> {
  const options = {
    momentum: uniform(random, optimizer.endsWith('Reference') ? 0 : 0.5, 0.98),
    weightDecayAtY: pick(random, [0, 0, 0.05]),
    r: pick(random, [0, 0.5]),
    weightLrPower: pick(random, [2, 0]),
  };
  const wd = pick(random, [0, 0, 0.01]);
  const bases: Array<() => { type: string; options: Record<string, unknown> }> = [
    () => ({
      type: 'SGD',
      options: { lr: uniform(random, 0.05, 0.5), momentum: pick(random, [0, 0, 0.5]), weightDecay: wd },
    }),
    () => ({
      type: 'Adam',
      options: {
        lr: uniform(random, 0.01, 0.1),
        betas: [pick(random, [0, 0.5, 0.9]), 0.99],
        weightDecay: wd,
      },
    }),
    () => ({
      type: 'AdamW',
      options: { lr: uniform(random, 0.01, 0.1), betas: [pick(random, [0, 0.9]), 0.999], weightDecay: wd },
    }),
    () => ({
      type: 'RMSprop',
      options: {
        lr: uniform(random, 0.005, 0.05),
        centered: random() < 0.3,
        momentum: pick(random, [0, 0.5]),
      },
    }),
    () => ({
      type: 'Adagrad',
      options: {
        lr: uniform(random, 0.05, 0.3),
        lrDecay: pick(random, [0, 0.01]),
        initialAccumulatorValue: pick(random, [0, 0.1]),
      },
    }),
  ];
  return { options, base: pick(random, bases)() };
}

/** Random options valid for a class. */
function randomOptions(random: () => number, optimizer: string): Record<string, unknown> {
  if (optimizer === 'AdamCScheduleFreePlusPaper') {
    return {
      lr: uniform(random, 0.1, 1),
      betas: [pick(random, [0.8, 0.9]), pick(random, [0.95, 0.99])],
      sfBeta1: pick(random, [0.9, 0.95]),
      weightDecay: pick(random, [0, 0, 0.1, 0.5]),
      r: pick(random, [0, 0.5]),
      polyakBeta: pick(random, [0, 0, 0.9]),
      cWarmup: pick(random, [0, 0, 2]),
      sfBeta1AnnealSteps: pick(random, [0, 0, 4]),
      weightLrPower: pick(random, [2, 1]),
    };
  }
  const common = {
    weightDecay: pick(random, [0, 0, 0.01, 0.1]),
    r: pick(random, [0, 0, 0.5, 1]),
    weightLrPower: pick(random, [2, 2, 1, 0]),
  };
  const warmup = optimizer.startsWith('RAdam') ? {} : { warmupSteps: pick(random, [0, 0, 2, 5]) };
  if (optimizer.startsWith('SGD')) {
    return { ...common, ...warmup, lr: uniform(random, 0.05, 1), momentum: uniform(random, 0.5, 0.98) };
  }
  const adam = {
    ...common,
    lr: uniform(random, 0.001, 0.1),
    betas: [uniform(random, 0.5, 0.98), pick(random, [0.9, 0.99, 0.999])],
    eps: pick(random, [1e-8, 1e-6]),
  };
  if (optimizer.startsWith('RAdam')) return { ...adam, silentSgdPhase: random() < 0.5 };
  const inner = optimizer === 'AdamWScheduleFree' || optimizer === 'AdamWScheduleFreeReference';
  const extra: Record<string, unknown> = inner ? { innerMomentum: pick(random, [0, 0, 0.5, 0.9]) } : {};
  if (optimizer === 'AdamWScheduleFreeReference') extra.decayAtZ = random() < 0.3;
  return { ...adam, ...warmup, ...extra };
}

/** The classes random cases are drawn for. */
export const randomCaseOptimizers = [
  'SGDScheduleFree',
  'SGDScheduleFreeClosure',
  'SGDScheduleFreeReference',
  'AdamWScheduleFree',
  'AdamWScheduleFreeClosure',
  'AdamWScheduleFreeReference',
  'AdamWScheduleFreePaper',
  'RAdamScheduleFree',
  'RAdamScheduleFreeClosure',
] as const;

/** The classes drawn for a backend: the nine, plus ScheduleFree+ where it declares support. */
export function optimizersFor(backend: Pick<ReplayBackend, 'features'>): readonly string[] {
  return backend.features?.includes('schedule-free-plus')
    ? [...randomCaseOptimizers, 'AdamCScheduleFreePlusPaper']
    : randomCaseOptimizers;
}

/** The wrapper classes of @schedulefree/wrapper, for backends that support them. */
export const wrapperCaseOptimizers = ['ScheduleFreeWrapper', 'ScheduleFreeWrapperReference'] as const;

/**
 * A random case (no expected values): random parameter sizes (including odd ones), options, groups
 * and gradients. Compare backends against the float64 core on it.
 */
export function randomCase(
  seed: number,
  optimizer: string = pick(rng(seed), randomCaseOptimizers),
  { frozen = false }: { frozen?: boolean } = {},
): CaseSpec {
  const random = rng(seed * 7919 + 17);
  const nParams = 1 + Math.floor(random() * 3);
  const sizes = Array.from({ length: nParams }, () => pick(random, [1, 3, 7, 16, 33, 100]));
  const names = sizes.map((_, i) => `p${i}`);
  const vector = (n: number, scale: number) => Array.from({ length: n }, () => scale * normal(random));
  const params = Object.fromEntries(names.map((n, i) => [n, vector(sizes[i], 1)]));
  const nSteps = 3 + Math.floor(random() * 8);
  const polyak = optimizer === 'AdamCScheduleFreePlusPaper';
  // With `frozen`, the last parameter has no gradient at some steps (the first one included).
  const frozenAt = (step: number, i: number) => frozen && i === nParams - 1 && step % 3 !== 1;
  const steps = Array.from({ length: nSteps }, (_, step) => {
    const grads = Object.fromEntries(
      names.map((n, i) => [n, frozenAt(step, i) ? null : vector(sizes[i], pick(random, [0.1, 1, 3]))]),
    );
    // ScheduleFree+ takes the loss: that of ½‖w − b‖², whose gradient these stand for (½Σg²).
    const loss = Object.values(grads).reduce(
      (sum, g) => sum + (g ?? []).reduce((a, v) => a + 0.5 * v * v, 0),
      0,
    );
    return { grads, ...(polyak ? { loss } : {}) };
  });
  const wrapper = optimizer.startsWith('ScheduleFreeWrapper');
  const { options, base } = wrapper
    ? randomWrapperOptions(random, optimizer)
    : { options: randomOptions(random, optimizer), base: undefined };
  const lr = (wrapper ? base!.options.lr : options.lr) as number;
  const groups =
    nParams > 1 && random() < 0.5
      ? [
          { params: names.slice(0, 1), options: { lr: lr * 0.5 } },
          { params: names.slice(1), options: {} },
        ]
      : undefined;
  return {
    name: `random-${optimizer}${base ? `-${base.type}` : ''}${frozen ? '-frozen' : ''}-${seed}`,
    optimizer,
    options,
    ...(base ? { base } : {}),
    ...(groups ? { groups } : {}),
    params,
    steps,
  };
}

/** `count` random cases from consecutive seeds, cycling through the given classes. */
export function randomCases(
  count: number,
  firstSeed = 1,
  optimizers: readonly string[] = randomCaseOptimizers,
  { frozen = false }: { frozen?: boolean } = {},
): CaseSpec[] {
  // With `frozen`, every third case has a parameter without gradients at some steps.
  return Array.from({ length: count }, (_, i) =>
    randomCase(firstSeed + i, optimizers[i % optimizers.length], { frozen: frozen && i % 3 === 2 }),
  );
}
