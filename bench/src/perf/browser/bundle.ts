/**
 * Builds the page with esbuild: the harness's page code and the adapters' sources (workspace
 * packages resolve to their src, as in the tests), with each library in its own chunk.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const packagesDir = fileURLToPath(new URL('../../../../packages/', import.meta.url));
const entry = fileURLToPath(new URL('./page/main.ts', import.meta.url));

/** `@schedulefree/x` → packages/x/src/index.ts (and `/conformance` to its module). */
const workspaceSources: Plugin = {
  name: 'schedulefree-workspace',
  setup(b) {
    b.onResolve({ filter: /^@schedulefree\/[a-z]+(\/conformance)?$/ }, (args) => {
      const [, name, sub] = /^@schedulefree\/([a-z]+)(\/conformance)?$/.exec(args.path)!;
      return { path: join(packagesDir, name, 'src', sub ? 'conformance.ts' : 'index.ts') };
    });
  },
};

/** Bundles the page into a fresh temporary folder and returns it (main.js plus chunks). */
export async function bundlePage(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'sf-browser-perf-'));
  await build({
    entryPoints: { main: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'error',
    plugins: [workspaceSources],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return outdir;
}
