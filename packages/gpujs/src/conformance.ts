import {
  algorithmReplayBackend,
  type HostGrads,
  type HostRecord,
  type ReplayBackend,
} from '@schedulefree/conformance';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer } from './optimizer.js';
import type { GpuJsRuntimeOptions } from './runtime.js';

/**
 * Conformance backends of the gpu.js adapter. `conformanceBackends()` gives the Node ones the replay
 * CLI names (`gpujs-cpu`, `gpujs-webasm`); {@link gpujsReplayBackend} builds one for any GPU
 * instance (the browser tests use it for webgl2, webgl and webgpu). Cases are resolved from the
 * registries by the conformance package and run through `GpuJsOptimizer` or
 * `GpuJsClosureOptimizer` with the case's algorithm, which is what every class of this package is.
 */

const toFloat32 = (grads: HostGrads) =>
  Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v && Float32Array.from(v)]));

const toHost = (record: Readonly<Record<string, Float32Array>>): HostRecord =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));

/**
 * A conformance backend over gpu.js: every case runs on the GPU instance `gpu()` returns (called
 * once, lazily), with float32 storage and these options.
 */
export function gpujsReplayBackend(
  name: string,
  gpu: () => GPU,
  options: GpuJsRuntimeOptions & { checkDeviceGradients?: boolean } = {},
): Promise<ReplayBackend> {
  let instance: GPU | null = null;
  return algorithmReplayBackend({
    name,
    dtype: 'float32',
    features: ['frozen-params'],
    create({ algorithm, params, options: groupOptions }) {
      instance ??= gpu();
      const host = Array.isArray(params)
        ? params.map((g) => ({ ...g, params: toFloat32(g.params) }))
        : toFloat32(params);
      const settings = { ...groupOptions, ...options };
      const Class = algorithm.kind === 'closure' ? GpuJsClosureOptimizer : GpuJsOptimizer;
      const optimizer = new Class(algorithm, instance, host as never, settings);
      const read = {
        params: async () => toHost(await optimizer.readParams()),
        evalParams: async () => toHost(await optimizer.evalParams()),
        dispose: () => optimizer.dispose(),
      };
      if (optimizer instanceof GpuJsClosureOptimizer) {
        return {
          train() {},
          eval() {},
          async step(grads, loss) {
            const converted = toFloat32(grads);
            await optimizer.step(() => ({ loss, grads: converted }));
          },
          ...read,
        };
      }
      return {
        train: async () => void (await optimizer.train()),
        eval: async () => void (await optimizer.eval()),
        step: async (grads, loss) => void (await optimizer.step(toFloat32(grads), { loss })),
        ...read,
      };
    },
  });
}

/**
 * The backends the replay CLI finds in Node: `gpujs-cpu` and `gpujs-webasm` (no native build), and
 * `gpujs-headlessgl` where the optional `gl` package works. Every class of the core and every
 * wrapper case runs on each.
 */
export async function conformanceBackends(): Promise<ReplayBackend[]> {
  const { GPU: GPUClass } = (await import('gpu.js')) as unknown as {
    GPU: (new (settings?: object) => GPU) & { isHeadlessGLSupported: boolean };
  };
  // headlessgl is opt-in: only where the optional native `gl` package is installed and works.
  const modes = ['cpu', 'webasm', ...(GPUClass.isHeadlessGLSupported ? ['headlessgl'] : [])];
  return Promise.all(modes.map((mode) => gpujsReplayBackend(`gpujs-${mode}`, () => new GPUClass({ mode }))));
}
