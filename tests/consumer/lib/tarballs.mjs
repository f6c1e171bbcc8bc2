import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { links } from './markdown.mjs';
import { filesUnder, sizeOf, unpack } from './packages.mjs';
import { assert } from './report.mjs';
import { run, tail } from './run.mjs';

/**
 * Checks every tarball as npm would publish it, and measures it: publint, are-the-types-wrong
 * (CommonJS resolving to ESM is expected: `require()` loads our ES modules on the Node versions of
 * `engines`), README links that work on npm's page, golden data shipped once. Returns the sizes.
 */
export async function checkTarballs({ report, tarballs, work, root }) {
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  const sizes = {};
  for (const { name, file, manifest } of Object.values(tarballs)) {
    const into = join(work, 'unpacked', manifest.name.replace('/', '+'));
    mkdirSync(into, { recursive: true });
    const dir = unpack(file, into);
    const files = filesUnder(dir);
    const unpacked = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    sizes[name] = { tarball: statSync(file).size, unpacked, files: files.length };

    await report.check(`${name}: publint --strict`, () => {
      const result = run(bin('publint'), ['--strict', file]);
      assert(result.status === 0 && /All good/.test(result.output), tail(result.output));
      return 'all good';
    });
    await report.check(`${name}: are-the-types-wrong (node10, node16 CJS and ESM, bundler)`, () => {
      const result = run(bin('attw'), [file, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii']);
      assert(result.status === 0 && /No problems found/.test(result.output), tail(result.output, 40));
      return 'no problems found';
    });
    await report.check(`${name}: README present, its links absolute (they work on npm's page)`, () => {
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      const relative = links(readme).filter((target) => !/^(https:\/\/|#)/.test(target));
      assert(relative.length === 0, `relative links: ${relative.join(', ')}`);
      return `${links(readme).length} links`;
    });
    if (manifest.unpkg) {
      await report.check(`${name}: script-tag build (unpkg/jsdelivr) is minified with a source map`, () => {
        const bundle = join(dir, manifest.unpkg);
        assert(manifest.jsdelivr === manifest.unpkg, 'jsdelivr and unpkg name different files');
        assert(existsSync(bundle) && existsSync(`${bundle}.map`), `${manifest.unpkg} or its map is missing`);
        const source = readFileSync(bundle, 'utf8');
        // Template literals (generated kernel source) keep their newlines; everything else is one line.
        assert(source.length / source.split('\n').length > 2000, 'not minified');
        assert(!/\brequire\(/.test(source), 'it calls require(): an import was left unbundled');
        sizes[name].browser = { file: manifest.unpkg, ...sizeOf(bundle) };
        return `${sizes[name].browser.bytes} bytes, ${sizes[name].browser.gzip} gzipped`;
      });
    }
    if (name === '@schedulefree/conformance') {
      await report.check(`${name}: golden trajectories ship once`, () => {
        // A number with 15+ digits from the data: it appears in any copy of it, inlined or not.
        const golden = readFileSync(join(root, 'packages/conformance/src/fixtures/golden.json'), 'utf8');
        const marker = golden.match(/\d\.\d{15,}/)[0];
        const holders = files.filter((f) => readFileSync(join(dir, f), 'utf8').includes(marker));
        assert(holders.length === 1, `found in ${holders.join(', ') || 'no file'}`);
        return holders[0];
      });
    }
  }
  return sizes;
}
