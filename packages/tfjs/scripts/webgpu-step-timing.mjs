// Time per step on tfjs's webgpu backend in headless Chromium: AdamWScheduleFree with the fused
// in-place kernel, the same class with `kernels: 'ops'` (the tfjs op chain), and tf.train.adam, on
// one variable of N parameters, interleaved in rounds in the same page. Each timed step ends with a
// device synchronisation (an asynchronous read of one element). Prints the WebGPU adapter the page
// got, so that a figure from a software rasteriser (SwiftShader) is not taken for a GPU's.
//
//   node packages/tfjs/scripts/webgpu-step-timing.mjs [size=1000000] [steps=10] [rounds=3]
//
// Wrap it in the browser lock: flock /tmp/browser.lock timeout 900 node ...
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const [size = 1_000_000, steps = 10, rounds = 3] = process.argv.slice(2).map(Number);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const tfjsDir = fileURLToPath(new URL('../', import.meta.url));

const page = `
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { AdamWScheduleFree } from '@schedulefree/tfjs';

globalThis.runTiming = async ({ size, steps, rounds }) => {
  if (!(await tf.setBackend('webgpu'))) throw new Error('no webgpu backend');
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter.info ?? {};
  const adapterInfo = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, isFallbackAdapter: info.isFallbackAdapter };
  const w = tf.variable(tf.randomNormal([size], 0, 1, 'float32', 1), true, 'w');
  const g = tf.randomNormal([size], 0, 0.1, 'float32', 2);
  const grads = { w: g };
  const sync = async () => {
    const one = tf.slice(w, [0], [1]);
    await one.data();
    one.dispose();
  };
  const optimizers = {
    'sf-adamw-fused': new AdamWScheduleFree({ lr: 1e-3, warmupSteps: 10, checkFinite: false }).train(),
    'sf-adamw-ops': new AdamWScheduleFree({ lr: 1e-3, warmupSteps: 10, checkFinite: false, kernels: 'ops' }).train(),
    'tf.train.adam': tf.train.adam(1e-3),
  };
  const times = Object.fromEntries(Object.keys(optimizers).map((k) => [k, []]));
  const tensorsPerStep = {};
  for (const [name, opt] of Object.entries(optimizers)) {
    for (let i = 0; i < 3; i++) opt.applyGradients(grads);
    await sync();
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, opt] of Object.entries(optimizers)) {
      const tensors = tf.memory().numTensors;
      const bytes = tf.memory().numBytesInGPU;
      for (let i = 0; i < steps; i++) {
        const start = performance.now();
        opt.applyGradients(grads);
        await sync();
        times[name].push(performance.now() - start);
      }
      tensorsPerStep[name] = { tensors: (tf.memory().numTensors - tensors) / steps, bytesInGPU: (tf.memory().numBytesInGPU - bytes) / steps };
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const result = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { medianMs: median(v), minMs: Math.min(...v), steps: v.length }]));
  return { adapterInfo, userAgent: navigator.userAgent, size, result, tensorsPerStep };
};
`;

const bundle = await build({
  stdin: { contents: page, resolveDir: tfjsDir, loader: 'js' },
  bundle: true,
  format: 'esm',
  write: false,
  platform: 'browser',
  logLevel: 'error',
  plugins: [
    {
      // Workspace packages from their TypeScript sources, as the tests resolve them (vitest.shared.ts).
      name: 'workspace-sources',
      setup(b) {
        b.onResolve({ filter: /^@schedulefree\// }, ({ path }) => {
          const [, name, sub] = /^@schedulefree\/([a-z]+)(?:\/([a-z]+))?$/.exec(path) ?? [];
          if (!name) return undefined;
          return { path: `${root}packages/${name}/src/${sub ?? 'index'}.ts` };
        });
      },
    },
  ],
});
const script = bundle.outputFiles[0].text;
const server = createServer((req, res) => {
  if (req.url === '/bundle.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(script);
  } else {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><script type="module" src="/bundle.js"></script>');
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--enable-unsafe-webgpu',
    '--enable-unsafe-swiftshader',
    '--use-angle=swiftshader',
  ],
});
try {
  const tab = await browser.newPage();
  tab.on('pageerror', (e) => console.error('page error:', e));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => typeof globalThis.runTiming === 'function');
  const out = await tab.evaluate((o) => globalThis.runTiming(o), { size, steps, rounds });
  const adam = out.result['tf.train.adam'].medianMs;
  for (const r of Object.values(out.result)) r.ratioToAdam = Number((r.medianMs / adam).toFixed(3));
  console.log(JSON.stringify(out, null, 2));
} finally {
  await browser.close();
  server.close();
}
