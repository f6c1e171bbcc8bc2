/**
 * The build every published package shares: ESM modules with bundled typings for npm, and for the
 * adapters a minified IIFE for `<script>` tags. Each package's `tsup.config.ts` only names its
 * entries (and, for an adapter, its browser global).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/** Imports that stay imports in the npm build: our packages and the backend libraries (peers). */
const libraryExternals = [/^@schedulefree\/(?!conformance$)/, /^@tensorflow\//, /^onnxruntime-/, 'gpu.js'];

/** The conformance suite: an import in JavaScript, but its types are inlined (see `dts` below). */
const conformancePackage = /^@schedulefree\/conformance$/;

/** Marks imports as external in the JavaScript build only (tsup's `external` applies to `.d.ts` too). */
function externalInJavaScript(filter: RegExp): Plugin {
  return {
    name: 'external-in-javascript',
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/**
 * Keeps JSON imports as separate files next to the bundle instead of inlining them, so data such as
 * the conformance golden trajectories ships once (and stays out of the source map).
 */
function jsonBesideBundle(outDir: string): Plugin {
  return {
    name: 'json-beside-bundle',
    setup(build) {
      build.onResolve({ filter: /\.json$/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined;
        const source = resolve(args.resolveDir, args.path);
        const target = resolve(outDir, relative(resolve('src'), source));
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(source, target);
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * Resolves a library to the global its own script tag defines (`tf`, `ort`, `GPU`), failing with a
 * message that says which script to add first when it is missing.
 */
function browserGlobals(packageName: string, globals: Record<string, string>): Plugin {
  const names = Object.keys(globals);
  return {
    name: 'browser-globals',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) =>
        names.includes(args.path) ? { path: args.path, namespace: 'browser-global' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'browser-global' }, (args) => {
        const global = globals[args.path];
        const message = `${packageName}: load ${args.path} first (its script tag defines the global "${global}")`;
        return {
          loader: 'js',
          contents: `if (typeof globalThis.${global} === 'undefined') throw new Error(${JSON.stringify(message)});\nmodule.exports = globalThis.${global};`,
        };
      });
    },
  };
}

/** The npm build: ESM, `.d.ts`, source maps, dependencies left as imports. */
export function libraryBuild(entry: string[]): Options {
  const outDir = 'dist';
  return {
    entry,
    outDir,
    format: ['esm'],
    // The adapters' `/conformance` typings name the suite's types; inlining them means users need
    // `@schedulefree/conformance` only when they run the suite (the JavaScript imports none of it).
    dts: { resolve: [conformancePackage] },
    sourcemap: true,
    // Keep the browser bundle, which another config of the same run writes into dist/browser.
    clean: ['!browser/**'],
    target: 'es2022',
    removeNodeProtocol: false,
    external: libraryExternals,
    esbuildPlugins: [externalInJavaScript(conformancePackage), jsonBesideBundle(outDir)],
    // Keep `with { type: 'json' }` on the JSON imports left in place (Node 20.10+ needs it).
    esbuildOptions(options) {
      options.supported = { ...options.supported, 'import-attributes': true };
    },
  };
}

export interface BrowserBundle {
  /** The package's name, for error messages. */
  packageName: string;
  /** File name in dist/browser, without `.min.js`. */
  fileName: string;
  /** Where the bundle puts its exports, e.g. `schedulefree.tfjs` (one global, one key per adapter). */
  globalName: string;
  /** Library imports mapped to the globals their own browser builds define, e.g. `{ '@tensorflow/tfjs': 'tf' }`. */
  globals?: Record<string, string>;
}

/** The script-tag build: one minified IIFE with source map, our packages bundled in, the library read from its global. */
export function browserBuild({ packageName, fileName, globalName, globals = {} }: BrowserBundle): Options {
  return {
    entry: { [`${fileName}.min`]: 'src/index.ts' },
    outDir: join('dist', 'browser'),
    format: ['iife'],
    globalName,
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    dts: false,
    clean: true,
    outExtension: () => ({ js: '.js' }),
    esbuildPlugins: [browserGlobals(packageName, globals)],
  };
}

/** Both builds of a package: the npm build of `entry`, and the browser bundle when given. */
export function packageBuild(entry: string[], browser?: BrowserBundle): Options[] {
  return browser ? [libraryBuild(entry), browserBuild(browser)] : [libraryBuild(entry)];
}
