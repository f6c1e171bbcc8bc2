/**
 * The consumer test: our packages as users get them. Packs every package, checks each tarball
 * (publint, are-the-types-wrong, README links, sizes), then for each package installs only its
 * tarball (our other tarballs as overrides) and its library from the registry into a fresh project,
 * with npm and with pnpm's strict layout, and runs there what a user would: the quick starts of the
 * root README and of the package README as written (Node snippets in Node, browser snippets in
 * headless Chromium, bundled and through the script-tag build, script-tag pages as written),
 * `tsc --noEmit` under four module resolutions, and `require()` from CommonJS.
 *
 * Usage: node tests/consumer/run.mjs [--only tfjs,onnx] [--pm npm|pnpm] [--keep]
 * (`pnpm test:consumer` builds first.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchBrowser, runHtml, runModule } from './lib/browser.mjs';
import { codeBlocks, kindOf, section } from './lib/markdown.mjs';
import { packAll } from './lib/packages.mjs';
import { createProject } from './lib/projects.mjs';
import { assert, Report } from './lib/report.mjs';
import { run, tail } from './lib/run.mjs';
import { bundleForBrowser, toJavaScript, withGlobals } from './lib/snippets.mjs';
import { checkTarballs } from './lib/tarballs.mjs';
import { prepareTypecheck, resolutions } from './lib/typecheck.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const fixtures = join(here, 'fixtures');
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const registryVersion = (name) => rootManifest.devDependencies[name];
const typescriptBin = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

const { values: args } = parseArgs({
  options: { only: { type: 'string' }, pm: { type: 'string' }, keep: { type: 'boolean' } },
});

/** Each published package as a user installs it: what it needs from the registry, and what its READMEs show. */
const projects = [
  { dir: 'core', internal: [], rootSection: 'Quick start: `@schedulefree/core`' },
  { dir: 'wrapper', internal: ['core'], rootSection: 'Quick start: any base optimizer' },
  {
    dir: 'conformance',
    internal: ['core'],
    dev: { vitest: registryVersion('vitest') },
    expectOutput: /(\d+) of \1 golden trajectories agree/,
  },
  {
    dir: 'tfjs',
    internal: ['core', 'wrapper'],
    registry: { '@tensorflow/tfjs': registryVersion('@tensorflow/tfjs') },
    rootSection: 'Quick start: TensorFlow.js',
    // @tensorflow/tfjs 4.22's own typings fail library checking (TS2304 `Long`, TS2411 in
    // tfjs-layers), so its users compile with skipLibCheck; the imports of ours are resolved instead.
    libCheck: false,
    libraryScript: 'node_modules/@tensorflow/tfjs/dist/tf.min.js',
    globals: { '@tensorflow/tfjs': 'tf', '@schedulefree/tfjs': 'schedulefree.tfjs' },
  },
  {
    dir: 'onnx',
    internal: ['core', 'wrapper'],
    registry: { 'onnxruntime-web': registryVersion('onnxruntime-web') },
    rootSection: 'Quick start: ONNX Runtime',
    libraryScript: 'node_modules/onnxruntime-web/dist/ort.min.js',
    globals: { 'onnxruntime-web': 'ort', '@schedulefree/onnx': 'schedulefree.onnx' },
  },
  {
    dir: 'gpujs',
    internal: ['core', 'wrapper'],
    registry: { 'gpu.js': registryVersion('gpu.js') },
    rootSection: 'Quick start: gpu.js',
    libraryScript: 'node_modules/gpu.js/dist/gpu-browser.min.js',
    globals: { 'gpu.js': 'GPU', '@schedulefree/gpujs': 'schedulefree.gpujs' },
  },
];

const selected = args.only ? projects.filter((p) => args.only.split(',').includes(p.dir)) : projects;
const packageManagers = args.pm ? [args.pm] : ['npm', 'pnpm'];
const report = new Report();
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'schedulefree-consumer-'));
console.log(`consumer test in ${work}`);

mkdirSync(join(work, 'packs'));
const tarballs = packAll(root, join(work, 'packs'));
const sizes = await checkTarballs({ report, tarballs, work, root });
writeFileSync(join(work, 'sizes.json'), `${JSON.stringify(sizes, null, 2)}\n`);

const rootReadme = readFileSync(join(root, 'README.md'), 'utf8');
const browser = await launchBrowser();
try {
  for (const project of selected) {
    for (const packageManager of packageManagers) await checkProject(project, packageManager);
  }
} finally {
  await browser.close();
}

console.log(`\nsizes (bytes; gzip at level 9):\n${JSON.stringify(sizes, null, 2)}`);
console.log(`consumer test: ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (!args.keep) rmSync(work, { recursive: true, force: true });
console.log(report.summary());
process.exit(report.failed.length ? 1 : 0);

/** The snippets a project runs: its package README's, and its section of the root README. */
function snippetsOf(project, readme) {
  const fromPackage = codeBlocks(readme).map((b) => ({
    ...b,
    source: `packages/${project.dir}/README.md:${b.line}`,
  }));
  const fromRoot = project.rootSection
    ? codeBlocks(section(rootReadme, project.rootSection)).map((b) => ({
        ...b,
        source: `README.md (${project.rootSection})`,
      }))
    : [];
  return [...fromPackage, ...fromRoot].map((block) => ({ ...block, kind: kindOf(block) }));
}

async function checkProject(project, packageManager) {
  const tarball = tarballs[project.dir];
  const label = `${tarball.name} [${packageManager}]`;
  const dir = join(work, `${project.dir}-${packageManager}`);
  let installed = false;
  await report.check(
    `${label}: install the tarball alone (+ ${Object.keys({ ...project.registry, ...project.dev }).join(', ') || 'nothing'} from the registry)`,
    () => {
      const result = createProject({
        dir,
        name: project.dir,
        tarball,
        internal: project.internal.map((name) => tarballs[name]),
        registry: project.registry ?? {},
        dev: project.dev ?? {},
        packageManager,
      });
      installed = true;
      return `${(result.ms / 1000).toFixed(1)} s`;
    },
  );
  if (!installed) return;

  if (packageManager === 'pnpm' && project.internal.length) {
    await report.check(
      `${label}: strict layout (undeclared ${tarballs[project.internal[0]].name} is not importable)`,
      () => {
        const probe = run(
          process.execPath,
          ['--input-type=module', '-e', `await import('${tarballs[project.internal[0]].name}')`],
          { cwd: dir },
        );
        assert(
          probe.status !== 0 && /ERR_MODULE_NOT_FOUND/.test(probe.output),
          `it was importable: ${tail(probe.output, 5)}`,
        );
      },
    );
  }

  const readme = readFileSync(join(dir, 'node_modules', tarball.name, 'README.md'), 'utf8');
  const snippets = snippetsOf(project, readme);
  for (const [i, snippet] of snippets.entries()) {
    const name = `snippet-${i + 1}`;
    if (snippet.kind === 'node') {
      await report.check(`${label}: Node runs ${snippet.source}`, async () => {
        writeFileSync(join(dir, `${name}.mjs`), await toJavaScript(snippet.code));
        const result = run(process.execPath, [`${name}.mjs`], { cwd: dir, timeout: 300_000 });
        assert(result.status === 0, `exit ${result.status}:\n${tail(result.output)}`);
        if (project.expectOutput)
          assert(project.expectOutput.test(result.output), `unexpected output: ${tail(result.output, 5)}`);
        return tail(result.stdout, 1);
      });
    } else if (snippet.kind === 'vitest') {
      await report.check(`${label}: vitest runs ${snippet.source}`, () => {
        writeFileSync(join(dir, `${name}.test.ts`), snippet.code);
        const result = run(
          process.execPath,
          [join('node_modules', 'vitest', 'vitest.mjs'), 'run', `${name}.test.ts`],
          { cwd: dir, timeout: 300_000, env: { NO_COLOR: '1', FORCE_COLOR: '0' } },
        );
        assert(
          result.status === 0 && /Tests\s+\d+ passed/.test(result.output),
          `vitest failed:\n${tail(result.output)}`,
        );
        return tail(result.output, 4)
          .split('\n')
          .find((line) => /Tests/.test(line))
          ?.trim();
      });
    } else if (snippet.kind === 'browser') {
      await report.check(`${label}: Chromium runs ${snippet.source}, bundled by esbuild`, async () => {
        const bundle = await bundleForBrowser(dir, name, snippet.code);
        const logs = await runModule(browser, dir, { module: bundle });
        return logs.at(-1);
      });
      if (packageManager === 'npm') {
        await report.check(`${label}: Chromium runs ${snippet.source} with script tags`, async () => {
          writeFileSync(
            join(dir, `${name}.global.js`),
            withGlobals(await toJavaScript(snippet.code), project.globals),
          );
          const scripts = [
            project.libraryScript,
            `node_modules/${tarball.name}/${tarball.manifest.unpkg.replace(/^\.\//, '')}`,
          ];
          const logs = await runModule(browser, dir, { scripts, module: `${name}.global.js` });
          return logs.at(-1);
        });
      }
    } else if (snippet.kind === 'page' && packageManager === 'npm') {
      await report.check(
        `${label}: Chromium loads the script-tag page of ${snippet.source} and trains`,
        async () => {
          const text = await runHtml(browser, dir, snippet.code, /(\d+\.\d+) → (\d+\.\d+)/);
          const [, before, after] = text.match(/(\d+\.\d+) → (\d+\.\d+)/);
          assert(Number(after) < Number(before), `did not improve: ${text}`);
          return text.trim();
        },
      );
    }
  }

  const typecheck = prepareTypecheck({
    projectDir: dir,
    fixtures,
    fixture: project.dir,
    packageName: tarball.name,
    snippets: snippets.filter((s) => s.kind === 'node' || s.kind === 'browser').map((s) => s.code),
    libCheck: project.libCheck ?? true,
  });
  // The layout matters to resolution, not the module mode: under pnpm two resolutions suffice.
  const checked = packageManager === 'npm' ? Object.keys(resolutions) : ['bundler', 'nodenext'];
  for (const resolution of checked) {
    await report.check(`${label}: tsc --noEmit, moduleResolution ${resolution}`, () =>
      typecheck(resolution, typescriptBin),
    );
  }

  await report.check(
    `${label}: require() without require(esm) (as Node < 20.19) says to use import()`,
    () => {
      const result = run(
        process.execPath,
        ['--no-experimental-require-module', '-e', `require('${tarball.name}')`],
        {
          cwd: dir,
        },
      );
      assert(
        result.status !== 0 &&
          /ERR_REQUIRE_ESM/.test(result.output) &&
          /dynamic import\(\)/.test(result.output),
        `unexpected: ${tail(result.output, 5)}`,
      );
      return 'ERR_REQUIRE_ESM, "change the require ... to a dynamic import()"';
    },
  );

  await report.check(`${label}: require() from CommonJS gives the module import() gives`, () => {
    const entries = [
      tarball.name,
      ...(tarball.manifest.exports['./conformance'] ? [`${tarball.name}/conformance`] : []),
    ];
    const script = entries
      .map(
        (entry) => `{
  const required = require('${entry}');
  const keys = Object.keys(required);
  if (keys.length === 0) throw new Error('${entry}: require() gave no exports');
  import('${entry}').then((imported) => {
    if (keys.some((key) => required[key] !== imported[key])) throw new Error('${entry}: require() and import() gave different copies');
    console.log('${entry}: ' + keys.length + ' exports, one copy');
  });
}`,
      )
      .join('\n');
    writeFileSync(join(dir, 'require-check.cjs'), script);
    const result = run(process.execPath, ['require-check.cjs'], { cwd: dir });
    assert(result.status === 0, `exit ${result.status}:\n${tail(result.output)}`);
    return result.output
      .trim()
      .split('\n')
      .filter((line) => line.includes('one copy'))
      .join('; ');
  });
}
