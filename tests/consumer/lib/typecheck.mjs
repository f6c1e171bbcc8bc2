import { copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { filesUnder } from './packages.mjs';
import { run, tail } from './run.mjs';

/** The module settings a user's tsconfig may have; node10 reads the `typesVersions` of our packages. */
export const resolutions = {
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  node10: { module: 'esnext', moduleResolution: 'node10' },
};

/**
 * Writes the consumer file of a package (and the README snippets) into `<project>/typecheck` and
 * returns a function that runs `tsc --noEmit` there under one resolution. With `libCheck`, library
 * checking stays on (`skipLibCheck: false`), so an unresolvable import inside our typings is an
 * error; without it (for libraries whose own typings fail it), `typingsResolve` checks our imports.
 */
export function prepareTypecheck({ projectDir, fixtures, fixture, packageName, snippets, libCheck }) {
  const dir = join(projectDir, 'typecheck');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(fixtures, 'types.ts'), join(dir, 'types.ts'));
  copyFileSync(join(fixtures, `${fixture}.ts`), join(dir, 'consumer.ts'));
  const requireSource = readFileSync(join(fixtures, 'require.cts'), 'utf8').replace('PACKAGE', packageName);
  writeFileSync(join(dir, 'require.cts'), requireSource);
  const snippetFiles = snippets.map((code, i) => {
    writeFileSync(join(dir, `snippet-${i + 1}.ts`), code);
    return `snippet-${i + 1}.ts`;
  });
  return (resolution, typescriptBin) => {
    if (!libCheck) typingsResolve({ projectDir, packageName, resolution, typescriptBin });
    const files = ['consumer.ts', ...snippetFiles];
    // require() of an ES module type-checks only under nodenext (TypeScript 5.8+), as it runs only on Node 20.19+.
    if (resolution === 'nodenext') files.push('require.cts');
    const tsconfig = {
      compilerOptions: {
        ...resolutions[resolution],
        target: 'es2022',
        lib: ['es2022', 'dom'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: !libCheck,
      },
      files,
    };
    const config = `tsconfig.${resolution}.json`;
    writeFileSync(join(dir, config), `${JSON.stringify(tsconfig, null, 2)}\n`);
    const result = run(process.execPath, [typescriptBin, '-p', config], { cwd: dir });
    if (result.status !== 0) throw new Error(`tsc (${resolution}) failed:\n${tail(result.output, 40)}`);
    return `${files.length} files${libCheck ? ', libraries checked' : ', imports of our typings resolved'}`;
  };
}

/**
 * Resolves every import of the installed package's `.d.ts` files from where they are installed, as
 * TypeScript would: under `skipLibCheck` an import that does not resolve would make its types `any`
 * without an error.
 */
function typingsResolve({ projectDir, packageName, resolution, typescriptBin }) {
  const ts = createRequire(typescriptBin)('../lib/typescript.js');
  const options = { ...resolutions[resolution], target: 'es2022' };
  const parsed = ts.convertCompilerOptionsFromJson(options, projectDir).options;
  const dir = realpathSync(join(projectDir, 'node_modules', packageName));
  const missing = [];
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.d.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const [, specifier] of source.matchAll(/(?:from|import)\s+'([^']+)'/g)) {
      const resolved = ts.resolveModuleName(
        specifier,
        join(dir, file),
        parsed,
        ts.sys,
        undefined,
        undefined,
        ts.ModuleKind.ESNext,
      );
      if (!resolved.resolvedModule) missing.push(`${file}: '${specifier}'`);
    }
  }
  if (missing.length)
    throw new Error(`imports of our typings that do not resolve (${resolution}):\n${missing.join('\n')}`);
}
