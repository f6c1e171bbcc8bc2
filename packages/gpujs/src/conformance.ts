import type { CaseSpec, HostRecord, ReplayBackend, ReplaySubject } from '@schedulefree/conformance';
import type { Algorithm } from '@schedulefree/core';
import * as core from '@schedulefree/core';
import * as wrapper from '@schedulefree/wrapper';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer } from './optimizer.js';
import type { GpuJsRuntimeOptions } from './runtime.js';

/**
 * Conformance backends of the gpu.js adapter. `conformanceBackends()` gives the Node ones the replay
 * CLI names (`gpujs-cpu`, `gpujs-webasm`); {@link gpujsReplayBackend} builds one for any GPU
 * instance (the browser tests use it for webgl2, webgl and webgpu). The types come from
 * `@schedulefree/conformance` (type imports only: nothing of it is loaded at run time).
 */

/** A conformance backend of this adapter (it always says which cases it supports). */
export type GpuJsReplayBackend = ReplayBackend & { supports(spec: CaseSpec): string | null };

/** Builds the algorithm of a case, or null when this adapter has no such class. */
export type AlgorithmResolver = (spec: CaseSpec) => Algorithm<object> | null;

const coreAlgorithms = core.scheduleFreeAlgorithms as unknown as Record<string, Algorithm<object>>;

/** The core's nine classes by name. */
export const coreAlgorithmResolver: AlgorithmResolver = (spec) =>
  spec.base ? null : (coreAlgorithms[spec.optimizer] ?? null);

/** The wrapper classes around the base optimizers of `@schedulefree/wrapper`. */
export const wrapperAlgorithmResolver: AlgorithmResolver = (spec) => {
  const bases = wrapper.baseAlgorithms as Record<string, wrapper.BaseAlgorithm<{ lr: number }>>;
  const base = spec.base && bases[spec.base.type];
  const make = {
    ScheduleFreeWrapper: wrapper.ScheduleFreeWrapperAlgorithm,
    ScheduleFreeWrapperReference: wrapper.ScheduleFreeWrapperReferenceAlgorithm,
  }[spec.optimizer];
  return base && make ? (make(base, spec.options) as unknown as Algorithm<object>) : null;
};

const flatten = (values: unknown): number[] =>
  Array.isArray(values) ? values.flatMap(flatten) : [values as number];

const toFloat32 = (record: Readonly<Record<string, ArrayLike<number>>>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float32Array.from(v)]));

const toHost = (record: Readonly<Record<string, Float32Array>>): HostRecord =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));

/**
 * A conformance backend over gpu.js: every case runs through this adapter's optimizers on the GPU
 * instance `gpu()` returns (called once, lazily), with float32 storage.
 */
export function gpujsReplayBackend(
  name: string,
  gpu: () => GPU,
  options: GpuJsRuntimeOptions & { checkDeviceGradients?: boolean } = {},
  resolvers: readonly AlgorithmResolver[] = [coreAlgorithmResolver, wrapperAlgorithmResolver],
): GpuJsReplayBackend {
  let instance: GPU | null = null;
  const resolve = (spec: CaseSpec) =>
    resolvers.reduce<Algorithm<object> | null>((a, r) => a ?? r(spec), null);
  return {
    name,
    dtype: 'float32',
    supports: (spec) => (resolve(spec) ? null : `${spec.optimizer} is not available on ${name}`),
    async create(spec): Promise<ReplaySubject> {
      const algorithm = resolve(spec);
      if (!algorithm) throw new Error(`${spec.optimizer} is not available on ${name}`);
      instance ??= gpu();
      const host = (names: readonly string[]) =>
        Object.fromEntries(names.map((n) => [n, Float32Array.from(flatten(spec.params[n]))]));
      const params = spec.groups
        ? spec.groups.map((g) => ({ ...g.options, params: host(g.params) }))
        : host(Object.keys(spec.params));
      // Wrapper cases: the case's options are the wrapper's; the base's are the group options.
      const settings = { ...(spec.base ? spec.base.options : spec.options), ...options };
      if (algorithm.kind === 'closure') {
        const optimizer = new GpuJsClosureOptimizer(algorithm, instance, params, settings);
        return {
          train() {},
          eval() {},
          async step(grads) {
            const converted = toFloat32(grads);
            await optimizer.step(() => converted);
          },
          params: async () => toHost(await optimizer.readParams()),
          evalParams: async () => toHost(await optimizer.evalParams()),
          dispose: () => optimizer.dispose(),
        };
      }
      const optimizer = new GpuJsOptimizer(algorithm, instance, params, settings);
      return {
        train: () => optimizer.train().then(() => {}),
        eval: () => optimizer.eval().then(() => {}),
        step: (grads) => optimizer.step(toFloat32(grads)).then(() => {}),
        params: async () => toHost(await optimizer.readParams()),
        evalParams: async () => toHost(await optimizer.evalParams()),
        dispose: () => optimizer.dispose(),
      };
    },
  };
}

/**
 * The backends the replay CLI finds in Node: `gpujs-cpu` and `gpujs-webasm` (no native build), and
 * `gpujs-headlessgl` where the optional `gl` package works. Every class of the core and every
 * wrapper case runs on each.
 */
export async function conformanceBackends(): Promise<GpuJsReplayBackend[]> {
  const { GPU: GPUClass } = (await import('gpu.js')) as unknown as {
    GPU: (new (settings?: object) => GPU) & { isHeadlessGLSupported: boolean };
  };
  // headlessgl is opt-in: only where the optional native `gl` package is installed and works.
  const modes = ['cpu', 'webasm', ...(GPUClass.isHeadlessGLSupported ? ['headlessgl'] : [])];
  return modes.map((mode) => gpujsReplayBackend(`gpujs-${mode}`, () => new GPUClass({ mode })));
}
