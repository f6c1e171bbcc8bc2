/**
 * gpujs-webgl and gpujs-webgl2: the adapter's kernels against the plain AdamW kernels of the same
 * adapter (`GpuJsBaseOptimizer`, what the Node harness compares with; gpu.js has no optimizers of
 * its own), on one GPU object. The gradient is uploaded once into a texture.
 */
import * as sf from '@schedulefree/gpujs';
import { GPU } from 'gpu.js';
import { floatsMoved } from '../../backends.js';
import { classes } from '../../gpujs.js';
import { fillRandom } from '../../measure.js';
import type { PageRequest } from '../options.js';
import { webglAdapter } from './adapter.js';
import type { PageSetup } from './subject.js';

type Kernel = (...args: unknown[]) => unknown;

export async function setup(request: PageRequest): Promise<PageSetup> {
  const mode = request.backend === 'gpujs-webgl2' ? 'webgl2' : 'webgl';
  const Cls = classes[request.optimizer];
  if (!Cls) {
    throw new Error(
      `${request.backend}: unknown optimizer ${request.optimizer}; try one of ${Object.keys(classes).join(', ')}`,
    );
  }
  const n = request.size;
  const gpu = new GPU({ mode });
  const upload = gpu.createKernel('function (a) { return a[this.thread.x]; }', {
    output: [n],
    pipeline: true,
    immutable: true,
    precision: 'single',
  }) as unknown as Kernel;
  // Reads element 0 of a parameter texture: its readPixels returns only after every queued draw.
  const readOne = gpu.createKernel('function (a) { return a[0]; }', {
    output: [1],
    precision: 'single',
  }) as unknown as Kernel;
  const grad = upload(fillRandom(new Float32Array(n), 2).map((v) => v * 1e-3)) as sf.GpuJsTensor & {
    delete(): void;
  };
  const options = { lr: 1e-3, weightDecay: 1e-4 };
  const opt = await new Cls(gpu, { w: fillRandom(new Float32Array(n), 1) }, options).train();
  const sgd = request.optimizer.startsWith('SGD');
  const baseAlgorithm = (sgd ? sf.baseAlgorithms.SGD : sf.baseAlgorithms.AdamW) as sf.BaseAlgorithm<{
    lr: number;
    weightDecay: number;
  }>;
  const base = new sf.GpuJsBaseOptimizer(
    gpu,
    baseAlgorithm,
    { w: fillRandom(new Float32Array(n), 1) },
    options,
  );
  const subject = {
    name: `${request.optimizer} (@schedulefree/gpujs)`,
    step: () => opt.step({ w: grad }),
    sync: async () => {
      readOne(opt.params.w);
    },
  };
  const baseline = {
    name: `${sgd ? 'SGD' : 'AdamW'} kernels (same adapter, not Schedule-Free)`,
    step: () => base.step({ w: grad }),
    sync: async () => {
      readOne(base.params.w);
    },
  };
  // Kernels and state exist before anything is timed; gpu.js swaps textures from the third run on.
  for (let i = 0; i < 2; i++) {
    await subject.step();
    await baseline.step();
  }
  await subject.sync();
  await baseline.sync();
  if (opt.kernelModes.size !== 1 || !opt.kernelModes.has(mode)) {
    throw new Error(
      `${request.backend}: kernels ran in ${[...opt.kernelModes].join(', ')} instead of ${mode}`,
    );
  }
  const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
  return {
    subject,
    baseline,
    adapter: webglAdapter(mode),
    sync: 'a one-output kernel reading element 0 of the parameter (readPixels)',
    device: 'webgl',
    floatsMovedPerParam: floatsMoved(plan.program),
    notes: [`gpu.mode ${gpu.mode}`],
    async dispose() {
      await opt.dispose();
      await base.dispose();
      grad.delete();
      await gpu.destroy();
    },
  };
}
