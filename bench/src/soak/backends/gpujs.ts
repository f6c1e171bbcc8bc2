import * as sf from '@schedulefree/gpujs';
import { GPU } from 'gpu.js';
import { type PhaseResult, runLoop } from '../loop.js';
import { BackendUnavailable, pseudoRandom, type SoakBackend, throughJson } from './types.js';

const SIZES = { w: 5_000, b: 50 } as const;
type Name = keyof typeof SIZES;
const OPTIONS = { lr: 1e-3, warmupSteps: 100, weightDecay: 1e-4 };
const CYCLE_STEPS = 3;

function arrays(seed: number): Record<Name, Float32Array> {
  return { w: pseudoRandom(SIZES.w, seed), b: pseudoRandom(SIZES.b, seed + 1) };
}

/** Gradients of ½‖w − t‖² into `grads`; in webasm and cpu mode the parameters are the caller's arrays. */
function fillGradients(
  params: Record<Name, Float32Array>,
  targets: Record<Name, Float32Array>,
  grads: Record<Name, Float32Array>,
): void {
  for (const name of Object.keys(SIZES) as Name[]) {
    const w = params[name];
    const t = targets[name];
    const g = grads[name];
    for (let j = 0; j < w.length; j++) g[j] = w[j] - t[j];
  }
}

/**
 * Kernels gpu.js has created on this GPU instance (its `kernels` list; the adapter builds its
 * kernels once per program and shape and shares them between optimizers, so this must stay flat).
 * webasm and cpu mode have no textures to count.
 */
function kernelCount(gpu: GPU): number {
  const kernels = (gpu as unknown as { kernels?: unknown[] }).kernels;
  if (!Array.isArray(kernels)) throw new Error('gpu.js: GPU#kernels is not an array in this version');
  return kernels.length;
}

async function stepsPhase(gpu: GPU, mode: string, steps: number): Promise<PhaseResult> {
  const params = arrays(1);
  const targets = arrays(100);
  const grads = arrays(200);
  const opt = await new sf.AdamWScheduleFree(gpu, params, OPTIONS).train();
  const phase = await runLoop({
    name: 'steps',
    unit: 'step',
    total: steps,
    counters: () => ({ kernels: kernelCount(gpu) }),
    async body() {
      fillGradients(params, targets, grads);
      await opt.step(grads);
    },
    async periodic() {
      await opt.evalParams();
      await opt.eval();
      await opt.loadStateDict(throughJson(await opt.stateDict()));
      await opt.train();
    },
  });
  if (opt.kernelModes.size !== 1 || !opt.kernelModes.has(mode)) {
    throw new Error(`gpujs-${mode}: kernels ran in ${[...opt.kernelModes].join(', ')} instead of ${mode}`);
  }
  opt.dispose();
  return phase;
}

async function cyclesPhase(gpu: GPU, cycles: number): Promise<PhaseResult> {
  const targets = arrays(100);
  const grads = arrays(200);
  return runLoop({
    name: 'cycles',
    unit: 'cycle',
    total: cycles,
    counters: () => ({ kernels: kernelCount(gpu) }),
    async body() {
      const params = arrays(300);
      const opt = await new sf.AdamWScheduleFree(gpu, params, OPTIONS).train();
      for (let s = 0; s < CYCLE_STEPS; s++) {
        fillGradients(params, targets, grads);
        await opt.step(grads);
      }
      await opt.eval();
      await opt.stateDict();
      opt.dispose();
    },
  });
}

/** `@schedulefree/gpujs` in one of gpu.js's Node modes without a native build. */
export function gpujsSoak(mode: 'webasm' | 'cpu'): SoakBackend {
  return {
    name: `gpujs-${mode}`,
    summary:
      `AdamWScheduleFree on gpu.js ${mode}, 5,050 parameters: steps (a checkpoint per sampling ` +
      'interval), then create/dispose cycles on the same GPU; counter: gpu.js kernels (no textures in this mode)',
    counts: {
      default: { steps: 10_000, cycles: 200, fits: 0 },
      full: { steps: 10_000, cycles: 200, fits: 0 },
    },
    async run(counts, progress) {
      let gpu: GPU;
      try {
        gpu = new GPU({ mode });
      } catch (error) {
        throw new BackendUnavailable(`gpu.js mode ${mode} is not available: ${(error as Error).message}`);
      }
      try {
        progress(`steps: ${counts.steps}`);
        const steps = await stepsPhase(gpu, mode, counts.steps);
        progress(`cycles: ${counts.cycles} × (create, train, ${CYCLE_STEPS} steps, stateDict, dispose)`);
        const cycles = await cyclesPhase(gpu, counts.cycles);
        return [steps, cycles];
      } finally {
        await gpu.destroy();
      }
    },
  };
}
