import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

/** Flags of the project's headless Chromium (Debian's; never a downloaded browser). */
const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
];

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** The origin pages are served from; nothing leaves the browser (every request is answered here). */
export const origin = 'http://consumer.test';

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: chromiumArgs,
  });
}

/**
 * A CDN URL (`https://cdn.jsdelivr.net/npm/NAME@VERSION/PATH` or unpkg's) mapped to the same file of
 * the package installed in the project, as a user's page would load the published one.
 */
function cdnFile(url, projectDir) {
  const match = url.match(
    /^https:\/\/(?:cdn\.jsdelivr\.net\/npm|unpkg\.com)\/((?:@[^/]+\/)?[^/@]+)(?:@[^/]+)?\/(.+)$/,
  );
  if (!match) return null;
  return join(realpathSync(join(projectDir, 'node_modules', match[1])), match[2]);
}

/**
 * Opens `page` (a path under `projectDir`) in a fresh context, serving the project's files at
 * `origin` and CDN URLs from its node_modules; fails on any request it cannot answer.
 */
export async function openPage(browser, projectDir, page) {
  const context = await browser.newContext();
  const errors = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    const file = url.startsWith(`${origin}/`)
      ? join(projectDir, normalize(decodeURIComponent(new URL(url).pathname)))
      : cdnFile(url, projectDir);
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      if (!url.endsWith('/favicon.ico')) errors.push(`no file for ${url}`);
      return route.fulfill({ status: 404, body: 'not found' });
    }
    return route.fulfill({
      status: 200,
      body: readFileSync(file),
      headers: { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream' },
    });
  });
  const tab = await context.newPage();
  tab.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  tab.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  await tab.goto(`${origin}/${page}`);
  return { tab, errors, close: () => context.close() };
}

/**
 * Runs a module in a page after the given classic scripts, and resolves with what it logged once
 * its evaluation (top-level awaits included) has finished; rejects with its error.
 */
export async function runModule(browser, projectDir, { scripts = [], module, timeout = 150_000 }) {
  const harness = `<!doctype html><meta charset="utf-8"><body>
${scripts.map((src) => `<script src="${src}"></script>`).join('\n')}
<script type="module">
  window.__logs = [];
  const log = console.log.bind(console);
  console.log = (...args) => { window.__logs.push(args.map(String).join(' ')); log(...args); };
  import('./${module}').then(
    () => { window.__result = { ok: true }; },
    (error) => { window.__result = { ok: false, error: String(error && error.stack || error) }; },
  );
</script>`;
  return withPage(browser, projectDir, harness, async (tab) => {
    await tab.waitForFunction(() => window.__result, null, { timeout, polling: 250 });
    const result = await tab.evaluate(() => ({ ...window.__result, logs: window.__logs }));
    if (!result.ok) throw new Error(result.error);
    return result.logs;
  });
}

/** Loads an HTML page as written and resolves with its body text once that matches `pattern`. */
export async function runHtml(browser, projectDir, html, pattern, timeout = 150_000) {
  return withPage(browser, projectDir, html, async (tab) => {
    await tab.waitForFunction(
      (source) => new RegExp(source).test(document.body.textContent),
      pattern.source,
      {
        timeout,
        polling: 250,
      },
    );
    return tab.evaluate(() => document.body.textContent);
  });
}

async function withPage(browser, projectDir, html, body) {
  const name = `page-${Date.now()}-${Math.random().toString(36).slice(2)}.html`;
  writeFileSync(join(projectDir, name), html);
  const { tab, errors, close } = await openPage(browser, projectDir, name);
  try {
    const value = await body(tab).catch((error) => {
      throw new Error(`${error.message}${errors.length ? `\n${errors.join('\n')}` : ''}`);
    });
    if (errors.length) throw new Error(errors.join('\n'));
    return value;
  } finally {
    await close();
  }
}
