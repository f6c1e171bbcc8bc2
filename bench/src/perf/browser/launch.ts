/**
 * Drives headless Chromium through playwright-core: bundles and serves the page once, then runs each
 * request in a fresh browser context (its own page, GL contexts and GPU device).
 */
import { rmSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { bundlePage } from './bundle.js';
import type { PageRequest } from './options.js';
import type { BrowserPerfFile, PageResult } from './results.js';
import { servePage } from './serve.js';

export interface BrowserSession {
  run(request: PageRequest): Promise<PageResult>;
  info(): Promise<BrowserPerfFile['chromium']>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  executable: string;
  args: string[];
  /** Longest one request may take before the run is abandoned, in ms. */
  timeoutMs: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function launchBrowser(options: LaunchOptions): Promise<BrowserSession> {
  const bundleDir = await bundlePage();
  const server = await servePage(bundleDir);
  const browser = await chromium
    .launch({ executablePath: options.executable, args: options.args, headless: true })
    .catch(async (error: unknown) => {
      await server.close();
      rmSync(bundleDir, { recursive: true, force: true });
      throw new Error(
        `could not start Chromium at ${options.executable} (set CHROMIUM_PATH to another one): ${error instanceof Error ? error.message : error}`,
      );
    });
  let userAgent = '';
  return {
    async run(request) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(server.url);
        await page.waitForFunction(() => 'runBrowserPerf' in globalThis, undefined, { timeout: 60_000 });
        userAgent ||= await page.evaluate(() => navigator.userAgent);
        const run = page.evaluate(
          (r) =>
            (globalThis as unknown as { runBrowserPerf(r: PageRequest): Promise<PageResult> }).runBrowserPerf(
              r,
            ),
          request,
        );
        return await withTimeout(run, options.timeoutMs, `${request.backend} at n=${request.size}`).catch(
          (error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            throw new Error(
              `${request.backend}: ${message}${errors.length ? ` (page errors: ${errors.join('; ')})` : ''}`,
            );
          },
        );
      } finally {
        await context.close();
      }
    },
    async info() {
      return { executable: options.executable, version: browser.version(), args: options.args, userAgent };
    },
    async close() {
      await browser.close();
      await server.close();
      rmSync(bundleDir, { recursive: true, force: true });
    },
  };
}
