import { defineConfig } from 'vitest/config';
import { workspaceAlias } from './vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAlias },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'examples/*/src/**/*.test.ts',
      'bench/src/**/*.test.ts',
      'docs/test/snippets.test.ts',
    ],
    exclude: ['**/*.browser.test.ts', '**/node_modules/**'],
    testTimeout: 30_000,
    // CI also writes a JSON report, from which .ci/summary.mjs prints the closing count line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
  },
});
