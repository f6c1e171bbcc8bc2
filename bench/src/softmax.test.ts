import { describe, expect, it } from 'vitest';
import { bundledData, readCsv, scaleToUnitBox } from './data.js';
import { softmaxLoss } from './softmax.js';

describe('softmaxLoss', () => {
  const data = scaleToUnitBox(readCsv(bundledData('glass.csv')));
  const rows = [0, 5, 17, 40, 99, 150, 213];
  const w = Float64Array.from({ length: data.classes * data.dims }, (_, i) => 0.3 * Math.sin(i));
  const b = Float64Array.from({ length: data.classes }, (_, i) => 0.1 * i);

  it('is log(classes) at zero weights', () => {
    const zeros = { w: new Float64Array(w.length), b: new Float64Array(b.length) };
    expect(softmaxLoss(data, zeros.w, zeros.b, rows).loss).toBeCloseTo(Math.log(data.classes), 12);
  });

  it('has the gradient of its loss (central differences)', () => {
    const grad = { w: new Float64Array(w.length), b: new Float64Array(b.length) };
    softmaxLoss(data, w, b, rows, grad);
    const h = 1e-6;
    for (const [params, g] of [
      [w, grad.w],
      [b, grad.b],
    ] as const) {
      for (const i of [0, 3, params.length - 1]) {
        const keep = params[i];
        params[i] = keep + h;
        const up = softmaxLoss(data, w, b, rows).loss;
        params[i] = keep - h;
        const down = softmaxLoss(data, w, b, rows).loss;
        params[i] = keep;
        expect(g[i]).toBeCloseTo((up - down) / (2 * h), 7);
      }
    }
  });

  it('counts correct predictions', () => {
    const { correct } = softmaxLoss(data, w, b, rows);
    expect(correct).toBeGreaterThanOrEqual(0);
    expect(correct).toBeLessThanOrEqual(rows.length);
  });
});
