import * as sf from '@schedulefree/gpujs';
import { GPU } from 'gpu.js';
import { floatsMoved, type PerfBackend, type PerfSubject } from './backends.js';
import { fillRandom } from './measure.js';

export type Ctor = new (
  gpu: GPU,
  params: sf.GpuJsParams<object>,
  options: Record<string, unknown>,
) => sf.GpuJsOptimizer<object>;

/** The gpu.js classes the perf harnesses (Node and browser) can time, by name. */
export const classes: Record<string, Ctor> = {
  SGDScheduleFree: sf.SGDScheduleFree as unknown as Ctor,
  SGDScheduleFreeReference: sf.SGDScheduleFreeReference as unknown as Ctor,
  AdamWScheduleFree: sf.AdamWScheduleFree as unknown as Ctor,
  AdamWScheduleFreeReference: sf.AdamWScheduleFreeReference as unknown as Ctor,
  AdamWScheduleFreePaper: sf.AdamWScheduleFreePaper as unknown as Ctor,
  RAdamScheduleFree: sf.RAdamScheduleFree as unknown as Ctor,
};

/**
 * gpu.js in Node without a native build: `gpujs-webasm` (its WebAssembly backend, gpu.js's default
 * in Node) and `gpujs-cpu` (generated JavaScript). gpu.js has no optimizers of its own, so the
 * baseline is the plain base optimizer (SGD or AdamW, PyTorch semantics) run by the same generated
 * kernels. `gpujs-webasm-async` creates the kernels with `asyncMode`, which lets gpu.js spread large
 * webasm kernels over its worker pool.
 */
function perfBackend(mode: 'webasm' | 'cpu', asyncKernels = false): PerfBackend {
  const name = `gpujs-${mode}${asyncKernels ? '-async' : ''}`;
  return {
    name,
    async setup(optimizer, size): Promise<PerfSubject> {
      const Cls = classes[optimizer];
      if (!Cls) {
        throw new Error(
          `${name}: unknown optimizer ${optimizer}; try one of ${Object.keys(classes).join(', ')}`,
        );
      }
      const gpu = new GPU({ mode });
      const param = fillRandom(new Float32Array(size), 1);
      const grad = fillRandom(new Float32Array(size), 2).map((v) => v * 1e-3);
      const opt = await new Cls(gpu, { w: param }, { lr: 1e-3, weightDecay: 1e-4, asyncKernels }).train();
      await opt.step({ w: grad }); // allocate state and build the kernels outside the timed region
      const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
      const sgd = optimizer.startsWith('SGD');
      const baseParam = fillRandom(new Float32Array(size), 3);
      const baseAlgorithm = (sgd ? sf.baseAlgorithms.SGD : sf.baseAlgorithms.AdamW) as sf.BaseAlgorithm<{
        lr: number;
        weightDecay: number;
      }>;
      const base = new sf.GpuJsBaseOptimizer(
        gpu,
        baseAlgorithm,
        { w: baseParam },
        {
          lr: 1e-3,
          weightDecay: 1e-4,
          asyncKernels,
        },
      );
      await base.step({ w: grad });
      if (opt.kernelModes.size !== 1 || !opt.kernelModes.has(mode)) {
        throw new Error(`${name}: kernels ran in ${[...opt.kernelModes].join(', ')} instead of ${mode}`);
      }
      return {
        step: () => opt.step({ w: grad }),
        floatsMovedPerParam: floatsMoved(plan.program),
        baseline: {
          name: `${sgd ? 'SGD' : 'AdamW'} (same kernels, not Schedule-Free)`,
          step: () => base.step({ w: grad }),
        },
        async dispose() {
          await opt.dispose();
          await base.dispose();
          await gpu.destroy();
        },
      };
    },
  };
}

/** Perf backends of @schedulefree/gpujs. */
export const perfBackends: PerfBackend[] = [
  perfBackend('webasm'),
  perfBackend('cpu'),
  // Promise-returning kernels: gpu.js then runs large webasm kernels on its worker pool.
  perfBackend('webasm', true),
];
