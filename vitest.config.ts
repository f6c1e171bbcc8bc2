import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

// Tests run against the TypeScript sources: workspace imports resolve to src/, no build needed.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@schedulefree\/([a-z]+)\/conformance$/, replacement: `${packages}$1/src/conformance.ts` },
      { find: /^@schedulefree\/([a-z]+)$/, replacement: `${packages}$1/src/index.ts` },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'bench/src/**/*.test.ts'],
    exclude: ['**/*.browser.test.ts', '**/node_modules/**'],
    testTimeout: 30_000,
    // CI also writes a JSON report, from which .ci/summary.mjs prints the closing count line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
