/** The command line of `pnpm bench perf --browser` (pure: parsed and checked before Chromium starts). */
import { parseArgs } from 'node:util';
import { parseSize } from '../size.js';
import { browserBackendNames } from './options.js';
import type { BrowserPerfArgs } from './run.js';

export const BROWSER_PERF_USAGE = `  perf --browser --backend NAME[,NAME...] --optimizer CLASS --size N[,N...] [--steps K] [--json FILE]
       [--count-steps K] [--chromium-flag=--FLAG[=VALUE]]... [--timeout SECONDS]
      The same measurement in headless Chromium (playwright-core; CHROMIUM_PATH overrides
      /usr/bin/chromium), each timed step followed by a device synchronisation, against the same
      library's Adam on the same device in the same page. Prints and records the adapter (WebGPU
      adapter info, WebGL UNMASKED_RENDERER) and marks software rasterisers (SwiftShader), and the
      textures/buffers/tensors allocated and read-backs per step over --count-steps untimed steps
      after warm-up (default min(K, 5)). --timeout: seconds one measurement may take (default 600).
      Backends: ${browserBackendNames.join(', ')}.
      Chromium starts with SwiftShader flags; --chromium-flag (repeatable, or CHROMIUM_ARGS separated
      by spaces) adds or replaces one, e.g. --chromium-flag=--use-angle=vulkan
      --chromium-flag=--enable-features=Vulkan on a machine with a GPU.`;

function wholeNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a whole number ≥ 1, got "${text}"`);
  return n;
}

/** Parses the arguments after `perf` (which include --browser). */
export function parseBrowserPerfArgs(
  argv: readonly string[],
  cwdResolve: (p: string) => string = (p) => p,
): BrowserPerfArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      browser: { type: 'boolean' },
      backend: { type: 'string' },
      optimizer: { type: 'string', default: 'AdamWScheduleFree' },
      size: { type: 'string', default: '1M' },
      steps: { type: 'string' },
      'count-steps': { type: 'string' },
      json: { type: 'string' },
      'chromium-flag': { type: 'string', multiple: true },
      timeout: { type: 'string' },
    },
    strict: true,
  });
  if (!values.browser) throw new Error('parseBrowserPerfArgs: --browser is missing');
  if (!values.backend) {
    throw new Error(`--backend: name one or more of ${browserBackendNames.join(', ')} (comma-separated)`);
  }
  const timeout = wholeNumber('timeout', values.timeout);
  return {
    backends: values.backend
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    optimizer: values.optimizer,
    sizes: values.size.split(',').map(parseSize),
    steps: wholeNumber('steps', values.steps) ?? 20,
    countSteps: wholeNumber('count-steps', values['count-steps']),
    json: values.json ? cwdResolve(values.json) : undefined,
    chromiumFlags: values['chromium-flag'] ?? [],
    timeoutMs: timeout ? timeout * 1000 : undefined,
  };
}
