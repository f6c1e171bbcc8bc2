import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runOrThrow } from './run.mjs';

/** The published packages, by folder under packages/. */
export const packageDirs = ['core', 'wrapper', 'conformance', 'tfjs', 'onnx', 'gpujs'];

/** Packs every package with pnpm (which rewrites `workspace:` ranges as publishing does). */
export function packAll(root, destination) {
  const tarballs = {};
  for (const dir of packageDirs) {
    const cwd = join(root, 'packages', dir);
    const manifest = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
    runOrThrow('pnpm', ['pack', '--pack-destination', destination], { cwd });
    const file = join(
      destination,
      `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`,
    );
    tarballs[dir] = { name: manifest.name, file, manifest };
  }
  return tarballs;
}

/** Unpacks a tarball into `into` (npm tarballs hold one folder, `package/`). */
export function unpack(file, into) {
  runOrThrow('tar', ['-xzf', file, '-C', into]);
  return join(into, 'package');
}

/** Every file under a folder, relative paths. */
export function filesUnder(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? filesUnder(dir, path) : [path];
  });
}

/** Bytes of a file, and of it gzipped at level 9 (what a CDN serves compressed). */
export function sizeOf(file) {
  const bytes = readFileSync(file);
  return { bytes: statSync(file).size, gzip: gzipSync(bytes, { level: 9 }).length };
}

/** Sizes in KB with one decimal. */
export const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
