import { createRequire } from 'node:module';
import * as sf from '@schedulefree/onnx';
import type { PerfBackend, PerfSubject } from './backends.js';
import { floatsMoved } from './backends.js';
import { fillRandom } from './measure.js';
import { onnxClasses as classes } from './onnx-classes.js';

type Ort = sf.OrtModuleInput;

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
  if (runtime === 'node') return loadOrtNode();
  return (await import('onnxruntime-web')) as unknown as Ort;
}

/**
 * One step per `session.run` over the group's flat buffer, awaited (outputs are back in JS memory
 * when it resolves). The baseline is AdamW with the same decay (PyTorch semantics) as a graph on the same runtime:
 * ONNX Runtime has no optimizer of its own since its training API was removed.
 */
function perfBackend(name: string, runtime: 'web' | 'node', executionProviders: string[]): PerfBackend {
  return {
    name,
    async setup(optimizer, size): Promise<PerfSubject> {
      const Cls = classes[optimizer];
      if (!Cls) {
        throw new Error(
          `${name}: unknown optimizer ${optimizer}; try one of ${Object.keys(classes).join(', ')}`,
        );
      }
      const ort = await loadOrt(runtime);
      const grad = fillRandom(new Float32Array(size), 2).map((v) => v * 1e-3);
      const opt = await Cls.create(
        ort,
        { w: fillRandom(new Float32Array(size), 1) },
        { lr: 1e-3, weightDecay: 1e-4, executionProviders },
      );
      await opt.train();
      await opt.step({ w: grad }); // state and sessions exist before the timed region
      const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
      const adam = await sf.OnnxBaseOptimizer.create(
        ort,
        sf.AdamWAlgorithm, // with the decay the Schedule-Free step has: like for like
        { w: fillRandom(new Float32Array(size), 1) },
        { lr: 1e-3, weightDecay: 1e-4, executionProviders },
      );
      await adam.step({ w: grad });
      return {
        step: () => opt.step({ w: grad }),
        floatsMovedPerParam: floatsMoved(plan.program),
        baseline: {
          name: `${name} AdamW (same runtime, one graph, same decay)`,
          step: () => adam.step({ w: grad }),
        },
        dispose: async () => {
          await opt.dispose();
          await adam.dispose();
        },
      };
    },
  };
}

/** Perf backends of @schedulefree/onnx: onnxruntime-web's wasm provider, and onnxruntime-node's cpu. */
export const perfBackends: PerfBackend[] = [
  perfBackend('onnx-wasm', 'web', ['wasm']),
  perfBackend('onnx-node', 'node', ['cpu']),
];
