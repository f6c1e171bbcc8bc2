/**
 * What one browser measurement returns, and how it is turned into the ratio, the table and the
 * JSON. Pure: shared by the page (which fills a PageResult) and Node (which prints it).
 */
import { formatTable } from '../../lib/console.js';
import type { BrowserBackendName } from './options.js';

/** The device a backend ran on, as the browser reports it. */
export interface AdapterInfo {
  /** `webgl` (renderer strings from WEBGL_debug_renderer_info), `webgpu` (GPUAdapterInfo), or `cpu`. */
  api: 'webgl' | 'webgpu' | 'cpu';
  vendor: string;
  /** WebGL UNMASKED_RENDERER_WEBGL; WebGPU `description` (or `architecture`/`device` when empty). */
  renderer: string;
  /** WebGPU's `isFallbackAdapter`, when the browser reports it. */
  fallback?: boolean;
}

/** Allocations and read-backs per step, counted over untimed steps after warm-up. null: not countable. */
export interface StepCounts {
  /** gl.createTexture calls (WebGL) per step. */
  texturesCreated: number | null;
  /** GPUDevice.createBuffer/createTexture calls (WebGPU) per step. */
  gpuBuffersCreated: number | null;
  /** readPixels/getBufferSubData (WebGL) or GPUBuffer.mapAsync(READ) (WebGPU) calls per step. */
  readBacks: number | null;
  /** Change of tfjs `tf.memory().numTensors` per step (tfjs only). */
  numTensors: number | null;
  /** Change of tfjs's GPU bytes per step (`numBytesInGPUAllocated`, or `numBytesInGPU`) (tfjs only). */
  bytesInGPU: number | null;
  /**
   * Wall time per step of the counted steps, which are not synchronised: the time to issue the work.
   * With `drainMs` (the one synchronisation after them) it shows how much work was still queued.
   */
  issueMsPerStep: number;
  drainMs: number;
}

/** One optimizer timed in the page. */
export interface TimedRun {
  name: string;
  medianStepMs: number;
  /** Every timed step (step plus synchronisation), in the order they ran. */
  stepTimesMs: number[];
  counts: StepCounts;
}

/** What the page sends back for one backend, optimizer and size. */
export interface PageResult {
  backend: BrowserBackendName;
  optimizer: string;
  size: number;
  steps: number;
  countSteps: number;
  /** How each timed step waits for the device. */
  sync: string;
  adapter: AdapterInfo;
  subject: TimedRun;
  baseline: TimedRun;
  /** Float32 elements read plus written per parameter by one Schedule-Free step. */
  floatsMovedPerParam: number;
  notes: string[];
}

/** A PageResult with the derived ratio and the software-adapter verdict: one line of the JSON. */
export interface BrowserPerfResult extends PageResult {
  /** subject / baseline median step time: below 1 means faster than the library's own Adam. */
  ratio: number;
  /** True when the adapter is a software rasteriser (SwiftShader, llvmpipe, …): not a GPU's figure. */
  softwareAdapter: boolean;
}

export interface BrowserPerfFile {
  kind: 'browser-perf';
  chromium: { executable: string; version: string; args: string[]; userAgent: string };
  results: BrowserPerfResult[];
  /** Measurements that threw (the backend could not start under these flags, say), with the error. */
  failures: { backend: string; size: number; error: string }[];
}

const SOFTWARE = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render|warp/i;

/** True for a software rasteriser; a CPU backend is not one (it makes no GPU claim). */
export function isSoftwareAdapter(adapter: AdapterInfo): boolean {
  if (adapter.api === 'cpu') return false;
  return adapter.fallback === true || SOFTWARE.test(`${adapter.vendor} ${adapter.renderer}`);
}

/** The subject's median over the baseline's. */
export function stepRatio(subjectMs: number, baselineMs: number): number {
  if (!(subjectMs > 0) || !(baselineMs > 0)) {
    throw new Error(`step ratio needs two positive times, got ${subjectMs} and ${baselineMs} ms`);
  }
  return subjectMs / baselineMs;
}

export function withRatio(page: PageResult): BrowserPerfResult {
  return {
    ...page,
    ratio: stepRatio(page.subject.medianStepMs, page.baseline.medianStepMs),
    softwareAdapter: isSoftwareAdapter(page.adapter),
  };
}

/** First and third quartiles (linear interpolation between order statistics). */
export function quartiles(values: readonly number[]): [number, number] {
  if (!values.length) return [Number.NaN, Number.NaN];
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const pos = q * (sorted.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  };
  return [at(0.25), at(0.75)];
}

/** A median with its interquartile range: "158.4 [150.1–170.2]". */
function timeCell(run: TimedRun): string {
  const [q1, q3] = quartiles(run.stepTimesMs);
  const range = Number.isFinite(q1) ? ` [${q1.toFixed(1)}–${q3.toFixed(1)}]` : '';
  return `${run.medianStepMs.toFixed(1)}${range}`;
}

/** The adapter as one table cell, marked when it is a software rasteriser. */
export function adapterLabel(adapter: AdapterInfo): string {
  const name = [adapter.vendor, adapter.renderer].filter(Boolean).join(' / ') || 'unknown';
  const mark = isSoftwareAdapter(adapter) ? ' [software rasteriser]' : '';
  return `${adapter.api}: ${name}${mark}`;
}

function countCell(subject: number | null, baseline: number | null): string {
  const cell = (v: number | null) => (v === null ? '–' : String(+v.toPrecision(3)));
  return `${cell(subject)} / ${cell(baseline)}`;
}

function sizeLabel(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}

/**
 * The table printed after a run: one row per result, times as median [first–third quartile] of the
 * timed steps, counts as "Schedule-Free / baseline" per step.
 */
export function browserPerfTable(results: readonly BrowserPerfResult[]): string {
  const headers = [
    'backend',
    'optimizer',
    'size',
    'ms/step [IQR]',
    'baseline',
    'baseline ms [IQR]',
    'ratio',
    'textures+buffers/step',
    'tensors/step',
    'read-backs/step',
    'adapter',
  ];
  const rows = results.map((r) => {
    const created = (c: StepCounts) =>
      c.texturesCreated === null && c.gpuBuffersCreated === null
        ? null
        : (c.texturesCreated ?? 0) + (c.gpuBuffersCreated ?? 0);
    return [
      r.backend,
      r.optimizer,
      sizeLabel(r.size),
      timeCell(r.subject),
      r.baseline.name,
      timeCell(r.baseline),
      `${r.ratio.toFixed(2)}x`,
      countCell(created(r.subject.counts), created(r.baseline.counts)),
      countCell(r.subject.counts.numTensors, r.baseline.counts.numTensors),
      countCell(r.subject.counts.readBacks, r.baseline.counts.readBacks),
      adapterLabel(r.adapter),
    ];
  });
  return formatTable(headers, rows);
}

/** A line saying which figures come from a software rasteriser, or null when none do. */
export function softwareWarning(results: readonly BrowserPerfResult[]): string | null {
  const software = results.filter((r) => r.softwareAdapter).map((r) => r.backend);
  if (!software.length) return null;
  return `Software rasteriser: ${[...new Set(software)].join(', ')} ran on a CPU emulation of a GPU; these times are not a GPU's.`;
}
