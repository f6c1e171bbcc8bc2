/**
 * The built site in headless Chromium (Debian's, driven by playwright-core), served from a
 * sub-path by a plain static server: every page loads without console errors and without a request
 * leaving the site; the playground trains on every backend this browser has, the loss falls, and
 * switching backends mid-session works. Screenshots and measurements go to docs/.artifacts/.
 *
 * Run by `pnpm test:site`, which builds the site first with DOCS_BASE=/schedulefree-js/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type StaticSite, serveStatic } from './static-server';

const docs = fileURLToPath(new URL('..', import.meta.url));
const dist = join(docs, '.vitepress/dist');
const artifacts = join(docs, '.artifacts');
const base = process.env.DOCS_BASE ?? '/schedulefree-js/';
/** Steps each backend trains in the playground test: "a few hundred". */
const STEPS = Number(process.env.SITE_TEST_STEPS ?? 300);

const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
];

function htmlPages(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.html') && file !== '404.html')
    .map((file) => file.split('\\').join('/'))
    .sort();
}

function folderBytes(folder: string): { bytes: number; gzip: number; files: number } {
  let bytes = 0;
  let gzip = 0;
  let files = 0;
  for (const file of readdirSync(folder, { recursive: true, encoding: 'utf8' })) {
    const path = join(folder, file);
    if (!statSync(path).isFile()) continue;
    const content = readFileSync(path);
    bytes += content.length;
    gzip += gzipSync(content, { level: 6 }).length;
    files++;
  }
  return { bytes, gzip, files };
}

/** Console errors, page errors, failed requests and requests to anywhere but the site, of one page. */
function watch(page: Page, site: StaticSite) {
  const problems: string[] = [];
  const origin = new URL(site.url).origin;
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // Navigating away aborts the prefetches VitePress starts for the links in view: not a failure.
    const reason = request.failure()?.errorText;
    if (reason !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} (${reason})`);
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
      problems.push(`request off the site: ${url}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

/** A screenshot of the whole page, taken from the top so the fixed header and sidebar sit in place. */
async function fullShot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, name), fullPage: true });
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe('the documentation site', () => {
  let site: StaticSite;
  let browser: Browser;
  const measured: Record<string, { stepsPerSecond: number; firstLoss: number; lastLoss: number }> = {};

  before(async () => {
    assert.ok(existsSync(join(dist, 'index.html')), `no built site in ${dist}: run pnpm docs:build first`);
    const index = readFileSync(join(dist, 'index.html'), 'utf8');
    assert.ok(
      index.includes(`${base}assets/`),
      `the site was not built for the base ${base} (set DOCS_BASE)`,
    );
    mkdirSync(artifacts, { recursive: true });
    site = await serveStatic(dist, base);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [...chromiumArgs, '--enable-unsafe-webgpu'],
    });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  it('every page loads without console errors, failed requests or requests off the site', async () => {
    const pages = htmlPages(dist);
    assert.ok(pages.length > 50, `only ${pages.length} pages were built`);
    const failures: string[] = [];
    const links = new Set<string>();
    const queue = [...pages];
    // A few tabs at once: most of a page load is waiting, not computing.
    const worker = async () => {
      const page = await browser.newPage();
      const problems = watch(page, site);
      for (let file = queue.shift(); file; file = queue.shift()) {
        problems.length = 0;
        await page.goto(site.url + file, { waitUntil: 'load' });
        // Hydrated: Vue has mounted VitePress's app on the server-rendered page.
        await page.waitForFunction(() => '__vue_app__' in (document.querySelector('#app') ?? {}), undefined, {
          timeout: 20_000,
        });
        const text = await page.locator('main .vp-doc, .VPHero').first().textContent({ timeout: 5_000 });
        if (!text?.trim()) problems.push('empty page');
        if ((await page.locator('.NotFound').count()) > 0) problems.push('rendered as "page not found"');
        for (const href of await page.$$eval('a[href]', (anchors) =>
          anchors.map((a) => (a as HTMLAnchorElement).href),
        ))
          links.add(href);
        if (problems.length) failures.push(`${file}: ${problems.join('; ')}`);
      }
      await page.close();
    };
    await Promise.all([worker(), worker(), worker()]);
    assert.deepEqual(failures, [], 'pages with problems');
    // Every link within the site leads to a file of the build (the base path included).
    const origin = new URL(site.url).origin;
    const dead = [...links]
      .filter((href) => href.startsWith(origin))
      .map((href) => decodeURIComponent(new URL(href).pathname))
      .filter((path) => {
        if (!path.startsWith(base)) return true;
        const file = join(dist, path.slice(base.length));
        return !existsSync(file) || (statSync(file).isDirectory() && !existsSync(join(file, 'index.html')));
      });
    assert.deepEqual([...new Set(dead)], [], 'links to missing files');
    assert.deepEqual(site.missing, [], 'files requested but missing');
    console.log(`# ${pages.length} pages loaded; ${links.size} distinct links checked`);
  });

  it('renders the home page, an adapter page, the guide figure and the API reference', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watch(page, site);
    const shots: Array<[string, string]> = [
      ['index.html', 'home.png'],
      ['tfjs.html', 'adapter-tfjs.png'],
      ['guide/schedule-free.html', 'guide-sequences.png'],
      ['api/@schedulefree/core/classes/AdamWScheduleFree.html', 'api-core-AdamWScheduleFree.png'],
    ];
    for (const [file, png] of shots) {
      await page.goto(site.url + file, { waitUntil: 'load' });
      await page.waitForSelector('#app .VPContent');
      if (file.startsWith('guide/')) {
        const figure = page.locator('.sf-figure');
        assert.equal(await figure.locator('polyline').count(), 3, 'y, z and x are drawn');
        await figure.scrollIntoViewIfNeeded();
      }
      await page.screenshot({ path: join(artifacts, png) });
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  describe('the playground', () => {
    let page: Page;
    let problems: string[];
    let available: string[] = [];

    before(async () => {
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      problems = watch(page, site);
      await page.goto(`${site.url}playground.html`, { waitUntil: 'load' });
      await page.waitForSelector('.pg[data-state=idle]', { timeout: 60_000 });
      const unavailable = ((await page.getAttribute('.pg', 'data-unavailable')) ?? '')
        .split(' ')
        .filter(Boolean);
      const all = await page.$$eval('[data-testid=backend] option', (options) =>
        options.map((o) => (o as HTMLOptionElement).value),
      );
      available = all.filter((id) => !unavailable.includes(id));
      console.log(
        `# backends available: ${available.join(', ')}; not available: ${unavailable.join(', ') || 'none'}`,
      );
    });

    after(async () => {
      await page?.close();
    });

    const configure = async (settings: Record<string, string>) => {
      for (const [name, value] of Object.entries(settings)) {
        if (['task', 'backend', 'optimizer'].includes(name))
          await page.selectOption(`[data-testid=${name}]`, value);
      }
      for (const [name, value] of Object.entries(settings)) {
        if (!['task', 'backend', 'optimizer'].includes(name))
          await page.fill(`[data-testid=hp-${name}]`, value);
      }
    };
    const lastRun = async () =>
      page.$eval('[data-testid=runs] tbody tr:last-child', (row) => ({ ...(row as HTMLElement).dataset }));
    const train = async (timeout = 240_000) => {
      await page.click('[data-testid=run]');
      await page.waitForSelector('.pg[data-state=idle]', { timeout });
      return lastRun();
    };

    it('has the backends that need no GPU, and says why others are missing', async () => {
      for (const id of ['core', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm']) assert.ok(available.includes(id), id);
    });

    it('offers ScheduleFree+ where the adapter has it (typed arrays) and nowhere else', async () => {
      const plus = page.locator('[data-testid=optimizer] option[value=sf-plus]');
      await page.selectOption('[data-testid=backend]', 'core');
      assert.equal(await plus.isDisabled(), false);
      await page.selectOption('[data-testid=backend]', 'tfjs-cpu');
      assert.equal(await plus.isDisabled(), true);
      await page.selectOption('[data-testid=backend]', 'core');
    });

    it(`trains the digits MLP for ${STEPS} steps on every available backend, and the loss falls`, async () => {
      await page.click('[data-testid=clear]');
      for (const backend of available) {
        await configure({ task: 'mlp', backend, optimizer: 'sf-adamw', steps: String(STEPS) });
        const run = await train();
        const [first, last] = [Number(run.firstLoss), Number(run.lastLoss)];
        assert.equal(run.status, 'done', `${backend}: ${JSON.stringify(run)}`);
        assert.equal(Number(run.steps), STEPS);
        assert.ok(last < 0.1 * first, `${backend}: loss ${first} → ${last}`);
        measured[backend] = { stepsPerSecond: Number(run.stepsPerSecond), firstLoss: first, lastLoss: last };
        console.log(
          `# ${backend}: loss ${first.toFixed(4)} → ${last.toFixed(4)}, ${run.stepsPerSecond} steps/s`,
        );
      }
      // The same optimizer from the same start on the same batches: every backend ends at the same loss.
      const reference = measured[available[0]].lastLoss;
      for (const [backend, m] of Object.entries(measured)) {
        assert.ok(
          Math.abs(m.lastLoss - reference) <= 0.01 * reference,
          `${backend}: ${m.lastLoss} vs ${reference}`,
        );
      }
      assert.equal(await page.locator('[data-testid=runs] tbody tr').count(), available.length);
      await fullShot(page, 'playground-all-backends.png');
    });

    it('switches backends in the middle of a run and trains on the new one', async () => {
      await page.click('[data-testid=clear]');
      const first = available.includes('tfjs-webgl') ? 'tfjs-webgl' : 'tfjs-cpu';
      await configure({ task: 'mlp', backend: first, optimizer: 'sf-adamw', steps: '100000' });
      await page.click('[data-testid=run]');
      await page.waitForFunction(
        () =>
          Number(
            document.querySelector<HTMLElement>('[data-testid=runs] tbody tr:last-child')?.dataset.steps,
          ) >= 20,
        undefined,
        { timeout: 120_000 },
      );
      await page.selectOption('[data-testid=backend]', 'core');
      await page.waitForSelector('.pg[data-state=idle]', { timeout: 60_000 });
      const stopped = await lastRun();
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.backend, first);
      assert.ok(Number(stopped.lastLoss) < Number(stopped.firstLoss));
      // Then the new backend, and back to a tfjs one: both train.
      for (const backend of ['core', available.includes('tfjs-wasm') ? 'tfjs-wasm' : first]) {
        await configure({ backend, optimizer: 'sf-adamw', steps: '200' });
        const run = await train();
        assert.equal(run.status, 'done');
        assert.equal(run.backend, backend);
        assert.ok(Number(run.lastLoss) < 0.1 * Number(run.firstLoss));
      }
      assert.equal(await page.locator('[data-testid=runs] tbody tr').count(), 3);
    });

    it('compares Schedule-Free with scheduled runs told their horizon', async () => {
      await page.click('[data-testid=clear]');
      await configure({ task: 'mlp', backend: 'core', optimizer: 'sf-adamw', steps: '400' });
      const sf = await train();
      for (const [optimizer, horizon] of [
        ['adamw-cosine', '200'],
        ['adamw-linear', '400'],
      ]) {
        await configure({ optimizer, steps: '400', horizon });
        const run = await train();
        assert.equal(run.status, 'done');
        assert.ok(Number(run.lastLoss) < 0.1 * Number(run.firstLoss), JSON.stringify(run));
      }
      for (const optimizer of ['sf-sgd', 'sf-plus']) {
        await configure({ optimizer, steps: '400' });
        const run = await train();
        assert.equal(run.status, 'done');
        assert.ok(Number(run.lastLoss) < 0.1 * Number(run.firstLoss), JSON.stringify(run));
      }
      assert.equal(sf.status, 'done');
      await fullShot(page, 'playground-after-training.png');
    });

    it('draws the y, z and x paths on the Rosenbrock valley', async () => {
      await configure({ task: 'rosenbrock', backend: 'core', optimizer: 'sf-adamw' });
      const run = await train();
      assert.equal(run.status, 'done');
      assert.ok(Number(run.lastLoss) < 0.01 * Number(run.firstLoss), JSON.stringify(run));
      const legend = await page.locator('.pg-legend').textContent();
      assert.match(legend ?? '', /y.*z.*x/);
      await fullShot(page, 'playground-rosenbrock.png');
    });

    it('logged no console error while training', () => {
      assert.deepEqual(problems, []);
    });
  });

  it('says which backends are missing in a browser without WebGPU and WebGL', async () => {
    const bare = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [...chromiumArgs, '--disable-webgl', '--disable-webgl2', '--disable-features=WebGPU'],
    });
    try {
      const page = await bare.newPage();
      await page.goto(`${site.url}playground.html`, { waitUntil: 'load' });
      await page.waitForSelector('.pg[data-state=idle]', { timeout: 60_000 });
      const notices = (await page.locator('[data-testid=unavailable]').allTextContents()).join('\n');
      assert.match(notices, /WebGPU/);
      assert.match(notices, /WebGL2/);
      for (const id of ['tfjs-webgpu', 'onnx-webgpu', 'tfjs-webgl', 'gpujs-webgl']) {
        assert.equal(await page.locator(`[data-testid=backend] option[value=${id}]`).isDisabled(), true, id);
      }
      // The backends that need neither still train.
      await page.selectOption('[data-testid=backend]', 'core');
      await page.fill('[data-testid=hp-steps]', '50');
      await page.click('[data-testid=run]');
      await page.waitForSelector('.pg[data-state=idle]', { timeout: 60_000 });
      assert.equal(await page.getAttribute('[data-testid=runs] tbody tr:last-child', 'data-status'), 'done');
      await page.locator('[data-testid=notices]').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(artifacts, 'playground-no-gpu.png') });
    } finally {
      await bare.close();
    }
  });

  it('records the site size and the steps per second measured here', () => {
    const size = folderBytes(dist);
    const wasm = readdirSync(join(dist, 'assets'))
      .filter((f) => f.endsWith('.wasm'))
      .reduce((sum, f) => sum + statSync(join(dist, 'assets', f)).size, 0);
    const lines = [
      '# Documentation site: measurements of the last `pnpm test:site`',
      '',
      `Measured ${new Date().toISOString()} in headless Chromium (${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}; WebGL and WebGPU on SwiftShader, a CPU renderer), Node ${process.version}.`,
      '',
      `Built site (${relative(join(docs, '..'), dist)}): ${size.files} files, ${mb(size.bytes)} (${mb(size.gzip)} gzipped), of which ${mb(wasm)} are .wasm files of tfjs and onnxruntime-web; ${htmlPages(dist).length} HTML pages.`,
      '',
      `Playground, digits MLP (64-32-10, batch 64), Schedule-Free AdamW, ${STEPS} steps, training loss evaluated at x every 10 steps (included in the rate):`,
      '',
      '| backend | steps/s | loss at step 0 | loss at the end |',
      '|---|---|---|---|',
      ...Object.entries(measured).map(
        ([backend, m]) =>
          `| ${backend} | ${m.stepsPerSecond.toFixed(1)} | ${m.firstLoss.toFixed(4)} | ${m.lastLoss.toFixed(4)} |`,
      ),
      '',
    ];
    writeFileSync(join(artifacts, 'measurements.md'), lines.join('\n'));
    console.log(lines.map((l) => `# ${l}`).join('\n'));
    assert.ok(Object.keys(measured).length >= 4);
  });
});
