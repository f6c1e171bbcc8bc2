import type { HostRecord, ReplayBackend } from '@schedulefree/conformance';
import type { StateDict } from '@schedulefree/core';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, type GpuJsGrads, GpuJsOptimizer } from './optimizer.js';
import type { GpuJsRuntimeOptions } from './runtime.js';

/**
 * Conformance backends of the gpu.js adapter. `conformanceBackends()` gives the Node ones the replay
 * CLI names (`gpujs-cpu`, `gpujs-webasm`); {@link gpujsReplayBackend} builds one for any GPU
 * instance (the browser tests use it for webgl2, webgl and webgpu). Cases are resolved from the
 * registries by the conformance package and run through `GpuJsOptimizer` or
 * `GpuJsClosureOptimizer` with the case's algorithm, which is what every class of this package is.
 */

const toFloat32 = (record: Readonly<Record<string, ArrayLike<number>>>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float32Array.from(v)]));

const toHost = (record: Readonly<Record<string, Float32Array>>): HostRecord =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));

/**
 * A conformance backend over gpu.js: every case runs on the GPU instance `gpu()` returns (called
 * once, lazily), with float32 storage and these options.
 */
export async function gpujsReplayBackend(
  name: string,
  gpu: () => GPU,
  options: GpuJsRuntimeOptions & { checkDeviceGradients?: boolean } = {},
): Promise<ReplayBackend> {
  // Loaded here, not at the top: the conformance package is there when this runs (its CLI or a
  // test suite), but this module imports without it.
  const { algorithmReplayBackend, convertGrads } = await import('@schedulefree/conformance');
  // Host arrays become Float32Arrays; nulls (frozen parameters) and malformed input pass through.
  const gradients = (grads: unknown) => convertGrads(grads, (v) => Float32Array.from(v)) as GpuJsGrads;
  let instance: GPU | null = null;
  return algorithmReplayBackend({
    name,
    dtype: 'float32',
    features: ['frozen-params', 'schedule-free-plus'],
    create({ algorithm, params, options: groupOptions }) {
      instance ??= gpu();
      const host = Array.isArray(params)
        ? params.map((g) => ({ ...g, params: toFloat32(g.params) }))
        : toFloat32(params);
      const Class = algorithm.kind === 'closure' ? GpuJsClosureOptimizer : GpuJsOptimizer;
      const opt = new Class(algorithm, instance, host as never, { ...groupOptions, ...options });
      const trainEval = opt instanceof GpuJsOptimizer ? opt : null;
      return {
        train: async () => void (await trainEval?.train()),
        eval: async () => void (await trainEval?.eval()),
        async step(grads, loss) {
          const g = gradients(grads);
          if (trainEval) await trainEval.step(g, { loss });
          else await (opt as GpuJsClosureOptimizer<object>).step(() => ({ loss, grads: g }));
        },
        params: async () => toHost(await opt.readParams()),
        evalParams: async () => toHost(await opt.evalParams()),
        stateDict: () => opt.stateDict(),
        loadStateDict: (state) => opt.loadStateDict(state as StateDict),
        setOption(key, value) {
          const groups = opt.paramGroups as Array<Record<string, unknown>>;
          const previous = groups[0][key];
          for (const group of groups) group[key] = value;
          return previous;
        },
        dispose: () => opt.dispose(),
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
