/**
 * The training runs of B2 and B5 as self-contained jobs (dataset, network, optimizer, what to
 * measure), so a grid search can hand them to worker threads. Each thread loads a dataset once and
 * keeps it for every job that names it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bundledData, readCsv, scaleToUnitBox } from '../data.js';
import { type WorkerPool, workerPool } from '../lib/pool.js';
import {
  disposeData,
  type EpochRecord,
  type EvaluationPlan,
  type MlpConfig,
  splitRows,
  type TensorData,
  type TfOptimizerSpec,
  toTensorData,
  trainMlp,
  useWasmBackend,
} from './tfjs-mlp.js';

/** Which data a job trains on; the same spec gives the same rows in every thread. */
export type DatasetSpec =
  | {
      name: 'mnist';
      testSize: number;
      validationSize: number;
      /** Seed of the random test / validation / train split. */
      splitSeed: number;
      /** Use only a seeded subset of this many of the 10,000 images (smoke tests). */
      limit?: number;
    }
  | { name: 'digits'; testSize: number };

export interface MlpJob {
  dataset: DatasetSpec;
  config: MlpConfig;
  spec: TfOptimizerSpec;
  plan: EvaluationPlan;
}

/** The 10,000 images of the `mnist` package (28×28, values in [0, 1]) with their labels, ordered by digit. */
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

/** The rows of each split of a dataset spec (what `datasetFor` turns into tensors). */
export function mnistSplit(spec: Extract<DatasetSpec, { name: 'mnist' }>, rows: number) {
  return splitRows(rows, spec.testSize, spec.splitSeed, spec.validationSize);
}

/** The digits data (1797 rows, 8×8 pixels) scaled to [−1, 1], split train/test with a fixed seed. */
export function digitsData(testSize: number): TensorData {
  const data = scaleToUnitBox(readCsv(bundledData('digits.csv')));
  const { train, test } = splitRows(data.rows, testSize, 0);
  return toTensorData(data.features, data.labels, data.dims, data.classes, { train, test });
}

const loaded = new Map<string, TensorData>();

/** The tensors of a dataset spec, loaded once per thread. */
export function datasetFor(spec: DatasetSpec): TensorData {
  const key = JSON.stringify(spec);
  let data = loaded.get(key);
  if (!data) {
    if (spec.name === 'digits') data = digitsData(spec.testSize);
    else {
      const raw = loadMnist(spec.limit);
      data = toTensorData(raw.features, raw.labels, 784, 10, mnistSplit(spec, raw.rows));
    }
    loaded.set(key, data);
  }
  return data;
}

/** Frees every dataset this thread loaded. */
export function releaseDatasets(): void {
  for (const data of loaded.values()) disposeData(data);
  loaded.clear();
}

/** Runs one job (the entry point of a worker thread). */
export async function handle(job: MlpJob): Promise<EpochRecord[]> {
  await useWasmBackend();
  return trainMlp(datasetFor(job.dataset), job.config, job.spec, job.plan);
}

/** A pool of `size` threads running MLP jobs (size 1: in this thread). */
export function mlpPool(size: number): WorkerPool<MlpJob, EpochRecord[]> {
  return workerPool(new URL('./mlp-jobs.ts', import.meta.url), size, handle);
}
