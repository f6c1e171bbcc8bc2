/**
 * Options of the browser perf harness: which backends it knows, and the Chromium command line
 * (defaults that give SwiftShader everywhere, plus what the user adds to reach a real GPU).
 */

/** The backends `pnpm bench perf --browser` runs in the page, each with its library's own baseline. */
export const browserBackendNames = [
  'tfjs-webgl',
  'tfjs-webgpu',
  'onnx-webgpu',
  'onnx-wasm',
  'gpujs-webgl',
  'gpujs-webgl2',
] as const;

export type BrowserBackendName = (typeof browserBackendNames)[number];

export function isBrowserBackend(name: string): name is BrowserBackendName {
  return (browserBackendNames as readonly string[]).includes(name);
}

/**
 * Flags for headless Chromium without a GPU: WebGL through ANGLE on SwiftShader and WebGPU on
 * Dawn's SwiftShader adapter (the same set as vitest.browser.config.ts).
 */
export const defaultChromiumArgs: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
];

/** The part of a flag before `=`: `--use-angle=vulkan` and `--use-angle=swiftshader` share it. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  return eq < 0 ? flag : flag.slice(0, eq);
}

/**
 * The default flags with the user's appended; a user flag with the same name as a default
 * (`--use-angle=vulkan` against `--use-angle=swiftshader`) replaces it. `--enable-features` values
 * are merged instead, since Chromium reads only the last one.
 */
export function chromiumArgs(
  extra: readonly string[],
  defaults: readonly string[] = defaultChromiumArgs,
): string[] {
  const args = [...defaults];
  for (const flag of extra) {
    if (!flag.startsWith('--')) {
      throw new Error(
        `--chromium-flag: "${flag}" is not a Chromium switch; write it as --chromium-flag=--name=value`,
      );
    }
    const name = flagName(flag);
    const at = args.findIndex((a) => flagName(a) === name);
    if (at < 0) args.push(flag);
    else if (name === '--enable-features' || name === '--disable-features') {
      const merged = new Set([
        ...args[at].slice(name.length + 1).split(','),
        ...flag.slice(name.length + 1).split(','),
      ]);
      args[at] = `${name}=${[...merged].filter(Boolean).join(',')}`;
    } else args[at] = flag;
  }
  return args;
}

/** Extra flags from the environment: CHROMIUM_ARGS, separated by spaces. */
export function envChromiumArgs(env: Record<string, string | undefined> = process.env): string[] {
  return (env.CHROMIUM_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** The Chromium to drive: CHROMIUM_PATH, or Debian's package. */
export function chromiumPath(env: Record<string, string | undefined> = process.env): string {
  return env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** One measurement the page is asked to make. */
export interface PageRequest {
  backend: BrowserBackendName;
  optimizer: string;
  size: number;
  /** Timed steps of each optimizer (after two untimed warm-up steps). */
  steps: number;
  /** Untimed, unsynchronised steps over which allocations and read-backs are counted. */
  countSteps: number;
}

/** Checks a request before a browser is started, so bad input fails fast with the fix named. */
export function checkRequest(request: PageRequest): void {
  if (!isBrowserBackend(request.backend)) {
    throw new Error(
      `--backend: "${request.backend}" does not run in the browser; use one of ${browserBackendNames.join(', ')} (or drop --browser)`,
    );
  }
  for (const key of ['size', 'steps', 'countSteps'] as const) {
    if (!Number.isInteger(request[key]) || request[key] < 1) {
      throw new Error(`${key}: expected a whole number ≥ 1, got ${request[key]}`);
    }
  }
}
