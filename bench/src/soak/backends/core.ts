import { AdamWScheduleFree } from '@schedulefree/core';
import { runLoop } from '../loop.js';
import { pseudoRandom, type SoakBackend, throughJson } from './types.js';

/**
 * Parameter sizes: `w1` is over the 65,536 elements from which the state lives in WebAssembly
 * memory, `w2` and `b` are below it (state in JS typed arrays). 91,000 parameters in all.
 */
const SIZES = { w1: 70_000, w2: 20_000, b: 1_000 } as const;
type Name = keyof typeof SIZES;
const OPTIONS = { lr: 1e-3, warmupSteps: 100, weightDecay: 1e-4 };
/** Steps per create/dispose cycle. */
const CYCLE_STEPS = 3;

/** Per-step gradient noise: a table of prime length, so that consecutive steps differ. */
const NOISE = pseudoRandom(4_099, 7);

/** Gradients of ½‖w − target‖² plus a per-step offset, written into `grads` (cheap next to the step). */
function fillGradients(
  params: Record<Name, Float32Array>,
  targets: Record<Name, Float32Array>,
  grads: Record<Name, Float32Array>,
  step: number,
): void {
  const shift = 0.1 * NOISE[step % NOISE.length];
  for (const name of Object.keys(SIZES) as Name[]) {
    const w = params[name];
    const t = targets[name];
    const g = grads[name];
    for (let j = 0; j < w.length; j++) g[j] = w[j] - t[j] + shift;
  }
}

function arrays(seed: number, scale = 1): Record<Name, Float32Array> {
  const out = {} as Record<Name, Float32Array>;
  let s = seed;
  for (const [name, size] of Object.entries(SIZES) as [Name, number][]) {
    out[name] = pseudoRandom(size, s++).map((v) => v * scale);
  }
  return out;
}

/** `@schedulefree/core`: AdamWScheduleFree over Float32Arrays (the default WebAssembly SIMD execution). */
export const coreSoak: SoakBackend = {
  name: 'core',
  summary:
    `AdamWScheduleFree over 3 Float32Arrays (${Object.values(SIZES).join(' + ')} parameters), wasm ` +
    'execution; a checkpoint (eval, stateDict → JSON → loadStateDict, train) per sampling interval',
  counts: {
    // A fifth of the counts by default: the full run takes about 3 minutes on 2 cores.
    default: { steps: 20_000, cycles: 200, fits: 0 },
    full: { steps: 100_000, cycles: 1_000, fits: 0 },
  },
  async run(counts, progress) {
    const targets = arrays(100);
    const grads = arrays(200);

    progress(`steps: ${counts.steps}`);
    const params = arrays(1);
    const opt = new AdamWScheduleFree(params, OPTIONS);
    opt.train();
    let evalSum = 0;
    const steps = await runLoop({
      name: 'steps',
      unit: 'step',
      total: counts.steps,
      body(i) {
        fillGradients(params, targets, grads, i);
        opt.step(grads);
      },
      periodic() {
        evalSum += opt.withEvalParams(() => params.b[0]);
        opt.eval();
        opt.loadStateDict(throughJson(opt.stateDict()));
        opt.train();
      },
    });
    opt.dispose();
    if (!Number.isFinite(evalSum) || !params.w1.every(Number.isFinite)) {
      throw new Error('core: the parameters became non-finite during the soak');
    }

    progress(`cycles: ${counts.cycles} × (create, train, ${CYCLE_STEPS} steps, stateDict, dispose)`);
    const cycleParams = arrays(300);
    const cycles = await runLoop({
      name: 'cycles',
      unit: 'cycle',
      total: counts.cycles,
      body(i) {
        const o = new AdamWScheduleFree(cycleParams, OPTIONS).train();
        for (let s = 0; s < CYCLE_STEPS; s++) {
          fillGradients(cycleParams, targets, grads, i * CYCLE_STEPS + s);
          o.step(grads);
        }
        o.eval().stateDict();
        o.dispose();
      },
    });
    return [steps, cycles];
  },
};
