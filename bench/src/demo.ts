import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamWScheduleFree } from '@schedulefree/core';
import { bundledData, readCsv, scaleToUnitBox } from './data.js';
import { runPerf } from './perf/run.js';
import { softmaxLoss } from './softmax.js';

/** The first thing a new user runs: a small training run and a speed check, in seconds. */
export async function runDemo({ out }: { out: string }): Promise<void> {
  mkdirSync(out, { recursive: true });
  const data = scaleToUnitBox(readCsv(bundledData('iris.csv')));
  const w = new Float64Array(data.classes * data.dims);
  const b = new Float64Array(data.classes);
  const grad = { w: new Float64Array(w.length), b: new Float64Array(b.length) };
  const opt = new AdamWScheduleFree({ w, b }, { lr: 0.05, warmupSteps: 20 });
  const all = Array.from({ length: data.rows }, (_, i) => i);
  const curve: Array<{ epoch: number; loss: number; accuracy: number }> = [];
  console.log('Softmax regression on Iris with AdamWScheduleFree (batch 16), evaluated at x:');
  for (let epoch = 1; epoch <= 30; epoch++) {
    opt.train();
    for (let start = 0; start < data.rows; start += 16) {
      softmaxLoss(data, w, b, all.slice(start, start + 16), grad);
      opt.step(grad);
    }
    opt.eval();
    const { loss, correct } = softmaxLoss(data, w, b, all);
    curve.push({ epoch, loss, accuracy: correct / data.rows });
    if (epoch % 5 === 0)
      console.log(
        `  epoch ${String(epoch).padStart(2)}  loss ${loss.toFixed(4)}  accuracy ${((100 * correct) / data.rows).toFixed(1)}%`,
      );
  }
  console.log('\nOne fused AdamWScheduleFree step over 1M float32 parameters:');
  const perf = await runPerf({
    backend: 'core-f32',
    optimizer: 'AdamWScheduleFree',
    sizes: [1_000_000],
    steps: 20,
  });
  writeFileSync(join(out, 'demo.json'), `${JSON.stringify({ iris: curve, perf }, null, 2)}\n`);
  console.log(`\nWrote ${join(out, 'demo.json')}`);
}
