/** The playground's datasets, parsed and standardised in the browser (or in Node, for tests). */
import { Random } from './random';

/** Row-major features with integer labels, split into train and test rows. */
export interface Dataset {
  readonly name: string;
  readonly dims: number;
  readonly classes: number;
  readonly train: Split;
  readonly test: Split;
}

export interface Split {
  readonly rows: number;
  /** rows × dims, standardised with the training rows' mean and deviation. */
  readonly features: Float32Array;
  readonly labels: Int32Array;
}

export type DatasetName = 'digits' | 'breast_cancer';

/** Parses the benchmark layout: a header of feature names then `label`, numeric cells. */
export function parse(name: string, text: string): Dataset {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const labelColumn = header.indexOf('label');
  if (labelColumn < 0) throw new Error(`${name}.csv has no label column`);
  const dims = header.length - 1;
  const rows = lines.length - 1;
  const features = new Float64Array(rows * dims);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',').map(Number);
    let d = 0;
    cells.forEach((value, c) => {
      if (c === labelColumn) labels[r] = value;
      else features[r * dims + d++] = value;
    });
  }
  const order = new Random(20241).permutation(rows);
  const testRows = Math.round(rows / 5);
  const pick = (which: Int32Array) => ({
    rows: which.length,
    labels: Int32Array.from(which, (r) => labels[r]),
    raw: Float64Array.from({ length: which.length * dims }, (_, i) => {
      const r = which[Math.floor(i / dims)];
      return features[r * dims + (i % dims)];
    }),
  });
  const test = pick(order.subarray(0, testRows));
  const train = pick(order.subarray(testRows));
  const { mean, scale } = moments(train.raw, train.rows, dims);
  const standardise = (raw: Float64Array) =>
    Float32Array.from(raw, (v, i) => (v - mean[i % dims]) * scale[i % dims]);
  return {
    name,
    dims,
    classes: Math.max(...labels) + 1,
    train: { rows: train.rows, labels: train.labels, features: standardise(train.raw) },
    test: { rows: test.rows, labels: test.labels, features: standardise(test.raw) },
  };
}

/** Per-feature mean and 1/deviation (0 for a constant feature, which then stays 0). */
function moments(raw: Float64Array, rows: number, dims: number) {
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (let i = 0; i < raw.length; i++) mean[i % dims] += raw[i] / rows;
  for (let i = 0; i < raw.length; i++) scale[i % dims] += (raw[i] - mean[i % dims]) ** 2 / rows;
  for (let d = 0; d < dims; d++) scale[d] = scale[d] > 1e-12 ? 1 / Math.sqrt(scale[d]) : 0;
  return { mean, scale };
}
