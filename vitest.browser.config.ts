import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { workspaceAlias } from './vitest.shared.js';

// Browser-mode tests (*.browser.test.ts) run in Debian's headless Chromium (never a downloaded
// browser). WebGL runs on SwiftShader; WebGPU needs --enable-unsafe-webgpu. CHROMIUM_PATH overrides
// the executable, e.g. on a machine with a real GPU.
const chromiumArgs = [
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
];

export default defineConfig({
  resolve: { alias: workspaceAlias },
  // Pre-bundle the backends the browser tests load, so Vite does not reload the page mid-run.
  optimizeDeps: {
    include: [
      'onnxruntime-web',
      'onnxruntime-web/webgpu',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      'gpu.js',
    ],
  },
  test: {
    // Browser tests of every package, plus the core's conformance suite run inside the browser.
    include: ['packages/*/src/**/*.browser.test.ts', 'packages/conformance/src/core.conformance.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 120_000,
    reporters: ['default'],
    browser: {
      enabled: true,
      headless: true,
      // A second run on the same port waits forever: fail at once instead, and let VITEST_BROWSER_PORT
      // pick another port for runs side by side.
      api: { port: Number(process.env.VITEST_BROWSER_PORT ?? 63315), strictPort: true },
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: chromiumArgs,
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});
