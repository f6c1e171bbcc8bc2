import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOrThrow } from './run.mjs';

/**
 * A fresh project that depends on one of our packages (as a tarball) and on registry packages,
 * with our other tarballs supplied only as overrides: under pnpm's strict layout the project can
 * import nothing it did not ask for, so a snippet that needs an undeclared package fails.
 */
export function createProject({ dir, name, tarball, internal, registry, dev = {}, packageManager }) {
  mkdirSync(dir, { recursive: true });
  const overrides = Object.fromEntries(internal.map((t) => [t.name, `file:${t.file}`]));
  const manifest = {
    name: `consumer-${name}-${packageManager}`,
    private: true,
    type: 'module',
    dependencies: { [tarball.name]: `file:${tarball.file}`, ...registry },
    devDependencies: dev,
    ...(packageManager === 'npm' ? { overrides } : { pnpm: { overrides } }),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return install(dir, packageManager);
}

function install(dir, packageManager) {
  if (packageManager === 'npm') {
    // Install scripts of registry packages are skipped (gpu.js's optional `gl` would try a native
    // build); ours have none.
    return runOrThrow('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: dir,
      timeout: 600_000,
    });
  }
  // CI=true would make pnpm demand a lockfile; this project has none by design.
  return runOrThrow('pnpm', ['install', '--no-frozen-lockfile', '--prefer-offline', '--reporter=silent'], {
    cwd: dir,
    timeout: 600_000,
  });
}
