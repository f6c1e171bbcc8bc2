import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A classification dataset: row-major features, integer labels. */
export interface Dataset {
  name: string;
  features: Float64Array;
  labels: Int32Array;
  rows: number;
  dims: number;
  classes: number;
}

/** Path of a dataset bundled with the benchmarks. */
export const bundledData = (file: string) => fileURLToPath(new URL(`../data/${file}`, import.meta.url));

/** Reads a CSV in the shared layout (header of feature names then `label`; numeric cells). */
export function readCsv(
  path: string,
  name = path
    .split('/')
    .pop()!
    .replace(/\.csv$/, ''),
): Dataset {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const labelIndex = header.indexOf('label');
  if (labelIndex < 0) throw new Error(`${path}: no "label" column in the header`);
  const dims = header.length - 1;
  const rows = lines.length - 1;
  const features = new Float64Array(rows * dims);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',').map(Number);
    if (cells.length !== header.length || cells.some(Number.isNaN))
      throw new Error(`${path}: row ${r + 2} is not numeric`);
    let d = 0;
    cells.forEach((v, i) => {
      if (i === labelIndex) labels[r] = v;
      else features[r * dims + d++] = v;
    });
  }
  const classes = Math.max(...labels) + 1;
  return { name, features, labels, rows, dims, classes };
}

/** Min–max scales every feature to [−1, 1] in place (constant features become 0). */
export function scaleToUnitBox(data: Dataset): Dataset {
  for (let d = 0; d < data.dims; d++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < data.rows; r++) {
      const v = data.features[r * data.dims + d];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let r = 0; r < data.rows; r++) {
      const i = r * data.dims + d;
      data.features[i] = hi > lo ? (2 * (data.features[i] - lo)) / (hi - lo) - 1 : 0;
    }
  }
  return data;
}
