import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, transform } from 'esbuild';

/** TypeScript of a snippet as the JavaScript a user's toolchain would run (types removed, nothing else). */
export async function toJavaScript(code) {
  return (await transform(code, { loader: 'ts', format: 'esm', target: 'es2022' })).code;
}

/** Bundles a snippet for the browser with esbuild, resolving packages from the project as a user's bundler would. */
export async function bundleForBrowser(projectDir, entryName, code) {
  const entry = join(projectDir, `${entryName}.ts`);
  writeFileSync(entry, code);
  const outfile = join(projectDir, `${entryName}.bundle.js`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'error',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return `${entryName}.bundle.js`;
}

/**
 * The snippet as a user of the script-tag builds writes it: every import replaced by the global its
 * library's script defines. Fails if an import has no global.
 */
export function withGlobals(javascript, globals) {
  const lines = javascript.split('\n').map((line) => {
    const namespace = line.match(/^import \* as (\w+) from ["']([^"']+)["'];$/);
    if (namespace) return `const ${namespace[1]} = ${globalFor(namespace[2], globals)};`;
    const named = line.match(/^import \{([^}]*)\} from ["']([^"']+)["'];$/);
    if (named) {
      const names = named[1]
        .split(',')
        .map((name) => name.trim().replace(/\s+as\s+/, ': '))
        .filter(Boolean);
      return `const { ${names.join(', ')} } = ${globalFor(named[2], globals)};`;
    }
    if (/^import\b/.test(line)) throw new Error(`no script-tag form for: ${line}`);
    return line;
  });
  return lines.join('\n');
}

function globalFor(specifier, globals) {
  const global = globals[specifier];
  if (!global) throw new Error(`no global for ${specifier}`);
  return `globalThis.${global}`;
}
