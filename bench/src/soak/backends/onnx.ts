import { createRequire } from 'node:module';
import * as sf from '@schedulefree/onnx';
import { type PhaseResult, releasedVerdict, runLoop } from '../loop.js';
import { BackendUnavailable, pseudoRandom, type SoakBackend, throughJson } from './types.js';

type Ort = Extract<sf.OrtModuleInput, { InferenceSession: unknown }>;
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

const SIZES = { w: 5_000, b: 50 } as const;
type Name = keyof typeof SIZES;
const OPTIONS = { lr: 1e-3, warmupSteps: 100, weightDecay: 1e-4 };
const CYCLE_STEPS = 3;

/** onnxruntime-node is a dev dependency of @schedulefree/onnx, not of the bench: resolve it from there. */
function loadOrtNode(): Ort {
  const fromBench = createRequire(import.meta.url);
  try {
    return fromBench('onnxruntime-node') as Ort;
  } catch {
    const onnxPackage = fromBench.resolve('@schedulefree/onnx/package.json');
    return createRequire(onnxPackage)('onnxruntime-node') as Ort;
  }
}

async function loadOrt(runtime: 'web' | 'node'): Promise<Ort> {
  try {
    if (runtime === 'node') return loadOrtNode();
    const mod = (await import('onnxruntime-web')) as unknown as Ort & { default?: Ort };
    return mod.InferenceSession ? mod : mod.default!;
  } catch (error) {
    throw new BackendUnavailable(`onnxruntime-${runtime} cannot be imported: ${(error as Error).message}`);
  }
}

/**
 * The runtime handed to the optimizers: the real one, with every session counted from creation
 * to `release()`. The adapter uses only `InferenceSession.create` and `Tensor` of what it is given
 * (docs/onnx.md), so the count is exact.
 */
function countingRuntime(ort: Ort): { ort: Ort; live(): number } {
  let live = 0;
  const counted: Ort = {
    Tensor: ort.Tensor,
    InferenceSession: {
      async create(model, options) {
        const session: Session = await ort.InferenceSession.create(model, options);
        live++;
        const release = session.release.bind(session);
        let released = false;
        session.release = async () => {
          if (!released) live--;
          released = true;
          return release();
        };
        return session;
      },
    },
  } as Ort;
  return { ort: counted, live: () => live };
}

function arrays(seed: number): Record<Name, Float32Array> {
  return { w: pseudoRandom(SIZES.w, seed), b: pseudoRandom(SIZES.b, seed + 1) };
}

/** Gradients of ½‖w − t‖², from the parameters `params()` returns (as a user's model would read them). */
async function gradients(
  opt: sf.OnnxScheduleFreeOptimizer<object>,
  targets: Record<Name, Float32Array>,
): Promise<Record<Name, Float32Array>> {
  const params = await opt.params();
  const out = {} as Record<Name, Float32Array>;
  for (const name of Object.keys(SIZES) as Name[]) {
    const w = (await params[name].getData()) as Float32Array;
    const t = targets[name];
    out[name] = w.map((v, j) => v - t[j]);
  }
  return out;
}

async function stepsPhase(
  runtime: { ort: Ort; live(): number },
  providers: string[],
  steps: number,
): Promise<PhaseResult> {
  const targets = arrays(100);
  const opt = await sf.AdamWScheduleFree.create(runtime.ort, arrays(1), {
    ...OPTIONS,
    executionProviders: providers,
  });
  await opt.train();
  const phase = await runLoop({
    name: 'steps',
    unit: 'step',
    total: steps,
    counters: () => ({ liveSessions: runtime.live() }),
    async body() {
      await opt.step(await gradients(opt, targets));
    },
    async periodic() {
      await opt.evalParams();
      await opt.eval();
      await opt.loadStateDict(throughJson(await opt.stateDict()));
      await opt.train();
    },
  });
  await opt.dispose();
  phase.verdicts.push(releasedVerdict('liveSessions', 0, runtime.live()));
  phase.pass = phase.verdicts.every((v) => v.pass);
  return phase;
}

async function cyclesPhase(
  runtime: { ort: Ort; live(): number },
  providers: string[],
  cycles: number,
): Promise<PhaseResult> {
  const targets = arrays(100);
  const initial = arrays(300);
  return runLoop({
    name: 'cycles',
    unit: 'cycle',
    total: cycles,
    counters: () => ({ liveSessions: runtime.live() }),
    async body() {
      const opt = await sf.AdamWScheduleFree.create(runtime.ort, initial, {
        ...OPTIONS,
        executionProviders: providers,
      });
      await opt.train();
      for (let s = 0; s < CYCLE_STEPS; s++) await opt.step(await gradients(opt, targets));
      await opt.eval();
      await opt.stateDict();
      await opt.dispose();
    },
  });
}

/** `@schedulefree/onnx` on onnxruntime-web (wasm provider) or onnxruntime-node (cpu provider). */
export function onnxSoak(runtimeName: 'web' | 'node'): SoakBackend {
  const providers = runtimeName === 'web' ? ['wasm'] : ['cpu'];
  return {
    name: runtimeName === 'web' ? 'onnx-wasm' : 'onnx-node',
    summary:
      `AdamWScheduleFree on onnxruntime-${runtimeName} (${providers[0]}), 5,050 parameters: create/dispose ` +
      'cycles, then steps (a checkpoint per sampling interval); counter: live InferenceSessions',
    counts: {
      default: { steps: 5_000, cycles: 200, fits: 0 },
      full: { steps: 5_000, cycles: 200, fits: 0 },
    },
    async run(counts, progress) {
      const runtime = countingRuntime(await loadOrt(runtimeName));
      progress(`cycles: ${counts.cycles} × (create, train, ${CYCLE_STEPS} steps, stateDict, dispose)`);
      const cycles = await cyclesPhase(runtime, providers, counts.cycles);
      progress(`steps: ${counts.steps}`);
      const steps = await stepsPhase(runtime, providers, counts.steps);
      return [cycles, steps];
    },
  };
}
