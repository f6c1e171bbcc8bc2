/**
 * The page's entry point: `runBrowserPerf(request)` sets one backend up, times the Schedule-Free
 * optimizer and the library's Adam in alternation (each step followed by a device
 * synchronisation), then counts allocations and read-backs over untimed steps after warm-up.
 * Libraries load lazily, so a page only fetches the one it measures.
 */
import { median } from '../../measure.js';
import type { PageRequest } from '../options.js';
import type { PageResult, StepCounts, TimedRun } from '../results.js';
import { deviceCalls, installDeviceCounters } from './counters.js';
import type { PageOptimizer, PageSetup } from './subject.js';

installDeviceCounters();

async function setup(request: PageRequest): Promise<PageSetup> {
  const [library] = request.backend.split('-');
  if (library === 'tfjs') return (await import('./tfjs.js')).setup(request);
  if (library === 'onnx') return (await import('./onnx.js')).setup(request);
  if (library === 'gpujs') return (await import('./gpujs.js')).setup(request);
  throw new Error(`no page module for backend ${request.backend}`);
}

/** Per-step deltas over `steps` unsynchronised steps (the work is awaited once, after counting). */
async function countSteps(s: PageSetup, optimizer: PageOptimizer, steps: number): Promise<StepCounts> {
  const calls0 = deviceCalls();
  const mem0 = s.memory?.();
  const start = performance.now();
  for (let i = 0; i < steps; i++) await optimizer.step();
  const issued = performance.now();
  const calls1 = deviceCalls();
  const mem1 = s.memory?.();
  await optimizer.sync();
  const drained = performance.now();
  const per = (a: number, b: number) => (b - a) / steps;
  return {
    issueMsPerStep: (issued - start) / steps,
    drainMs: drained - issued,
    texturesCreated: s.device === 'webgl' ? per(calls0.textures, calls1.textures) : null,
    gpuBuffersCreated: s.device === 'webgpu' ? per(calls0.gpuBuffers, calls1.gpuBuffers) : null,
    readBacks: s.device === 'cpu' ? null : per(calls0.readBacks, calls1.readBacks),
    numTensors: mem0 && mem1 ? per(mem0.numTensors, mem1.numTensors) : null,
    bytesInGPU: mem0 && mem1 ? per(mem0.bytesInGPU, mem1.bytesInGPU) : null,
  };
}

/** One step followed by the device synchronisation, timed. */
async function timedStep(optimizer: PageOptimizer): Promise<number> {
  const start = performance.now();
  await optimizer.step();
  await optimizer.sync();
  return performance.now() - start;
}

/**
 * Step times of the two optimizers, after two untimed warm-up steps each. Their timed steps
 * alternate (and which goes first alternates too), so a change in the machine's load during the run
 * reaches both medians alike.
 */
async function timeInterleaved(
  a: PageOptimizer,
  b: PageOptimizer,
  steps: number,
): Promise<[number[], number[]]> {
  for (let i = 0; i < 2; i++) {
    await timedStep(a);
    await timedStep(b);
  }
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < steps; i++) {
    if (i % 2 === 0) {
      times[0].push(await timedStep(a));
      times[1].push(await timedStep(b));
    } else {
      times[1].push(await timedStep(b));
      times[0].push(await timedStep(a));
    }
  }
  return times;
}

export async function runBrowserPerf(request: PageRequest): Promise<PageResult> {
  const s = await setup(request);
  try {
    const [subjectTimes, baselineTimes] = await timeInterleaved(s.subject, s.baseline, request.steps);
    // Counted after both are warm, so first-step allocations (state, kernels) are not counted.
    const subject: TimedRun = {
      name: s.subject.name,
      medianStepMs: median(subjectTimes),
      stepTimesMs: subjectTimes,
      counts: await countSteps(s, s.subject, request.countSteps),
    };
    const baseline: TimedRun = {
      name: s.baseline.name,
      medianStepMs: median(baselineTimes),
      stepTimesMs: baselineTimes,
      counts: await countSteps(s, s.baseline, request.countSteps),
    };
    return {
      backend: request.backend,
      optimizer: request.optimizer,
      size: request.size,
      steps: request.steps,
      countSteps: request.countSteps,
      sync: s.sync,
      adapter: s.adapter,
      subject,
      baseline,
      floatsMovedPerParam: s.floatsMovedPerParam,
      notes: s.notes,
    };
  } finally {
    await s.dispose();
  }
}

(globalThis as unknown as { runBrowserPerf: typeof runBrowserPerf }).runBrowserPerf = runBrowserPerf;
