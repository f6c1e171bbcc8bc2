import type { Algorithm } from '@schedulefree/core';
import * as core from '@schedulefree/core';
import {
  type BaseAlgorithm,
  ScheduleFreeWrapperAlgorithm,
  ScheduleFreeWrapperReferenceAlgorithm,
} from '@schedulefree/wrapper';
import type { GPU } from 'gpu.js';
import { GpuJsClosureOptimizer, GpuJsOptimizer, type GpuJsOptimizerBase } from './optimizer.js';
import type { GpuJsRuntimeOptions } from './runtime.js';
import { baseAlgorithms } from './wrapper.js';

/**
 * Conformance backends of the gpu.js adapter. `conformanceBackends()` gives the Node ones the replay
 * CLI names (`gpujs-cpu`, `gpujs-webasm`); {@link gpujsReplayBackend} builds one for any GPU
 * instance (the browser tests use it for webgl2, webgl and webgpu).
 */

/** The subset of `@schedulefree/conformance`'s `ReplayBackend` this module implements (no import needed). */
export interface GpuJsReplayBackend {
  readonly name: string;
  readonly dtype: 'float32';
  supports(spec: CaseLike): string | null;
  create(spec: CaseLike): Promise<ReplaySubjectLike>;
}

interface CaseLike {
  name: string;
  optimizer: string;
  options: Record<string, unknown>;
  base?: { type: string; options: Record<string, unknown> };
  groups?: Array<{ params: string[]; options: Record<string, unknown> }>;
  params: Record<string, unknown>;
}

type HostRecord = Record<string, Float64Array>;

interface ReplaySubjectLike {
  train(): Promise<void>;
  eval(): Promise<void>;
  step(grads: HostRecord): Promise<void>;
  params(): Promise<HostRecord>;
  evalParams(): Promise<HostRecord>;
  dispose(): void;
}

/** Builds the algorithm of a case, or null when this adapter has no such class. */
export type AlgorithmResolver = (spec: CaseLike) => Algorithm<object> | null;

const coreAlgorithms = core.scheduleFreeAlgorithms as unknown as Record<string, Algorithm<object>>;

/** The core's nine classes by name. */
export const coreAlgorithmResolver: AlgorithmResolver = (spec) =>
  spec.base ? null : (coreAlgorithms[spec.optimizer] ?? null);

function flatten(values: unknown): number[] {
  return Array.isArray(values) ? values.flatMap(flatten) : [values as number];
}

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
  const resolve = (spec: CaseLike) => {
    for (const r of resolvers) {
      const algorithm = r(spec);
      if (algorithm) return algorithm;
    }
    return null;
  };
  return {
    name,
    dtype: 'float32',
    supports: (spec) => (resolve(spec) ? null : `${spec.optimizer} is not available on ${name}`),
    async create(spec) {
      const algorithm = resolve(spec);
      if (!algorithm) throw new Error(`${spec.optimizer} is not available on ${name}`);
      instance ??= gpu();
      const params = Object.fromEntries(
        Object.entries(spec.params).map(([k, v]) => [k, Float32Array.from(flatten(v))]),
      );
      const grouped = spec.groups
        ? spec.groups.map((g) => ({
            params: Object.fromEntries(g.params.map((n) => [n, params[n]])),
            ...g.options,
          }))
        : params;
      const closure = algorithm.kind === 'closure';
      const Cls = closure ? GpuJsClosureOptimizer : GpuJsOptimizer;
      const optimizer: GpuJsOptimizerBase<object> = new Cls(
        algorithm,
        instance,
        grouped as never,
        // Wrapper cases: the case's options are the wrapper's; the base's are the group options.
        { ...(spec.base ? spec.base.options : spec.options), ...options } as never,
      );
      const convert = (grads: HostRecord) =>
        Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, Float32Array.from(v)]));
      return {
        async train() {
          if (!closure) await (optimizer as GpuJsOptimizer<object>).train();
        },
        async eval() {
          if (!closure) await (optimizer as GpuJsOptimizer<object>).eval();
        },
        async step(grads) {
          const converted = convert(grads);
          if (closure) await (optimizer as GpuJsClosureOptimizer<object>).step(() => converted);
          else await (optimizer as GpuJsOptimizer<object>).step(converted);
        },
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
  const resolvers = [coreAlgorithmResolver, wrapperAlgorithmResolver];
  const backends = [
    gpujsReplayBackend('gpujs-cpu', () => new GPUClass({ mode: 'cpu' }), {}, resolvers),
    gpujsReplayBackend('gpujs-webasm', () => new GPUClass({ mode: 'webasm' }), {}, resolvers),
  ];
  // Opt-in: only where the optional native `gl` package is installed and can open a context.
  if (GPUClass.isHeadlessGLSupported) {
    backends.push(
      gpujsReplayBackend('gpujs-headlessgl', () => new GPUClass({ mode: 'headlessgl' }), {}, resolvers),
    );
  }
  return backends;
}

/** The wrapper classes around the base optimizers of `@schedulefree/wrapper`. */
export const wrapperAlgorithmResolver: AlgorithmResolver = (spec) => {
  if (!spec.base) return null;
  const base = (baseAlgorithms as Record<string, BaseAlgorithm<{ lr: number }>>)[spec.base.type];
  const make = {
    ScheduleFreeWrapper: ScheduleFreeWrapperAlgorithm,
    ScheduleFreeWrapperReference: ScheduleFreeWrapperReferenceAlgorithm,
  }[spec.optimizer];
  return base && make ? (make(base, spec.options) as unknown as Algorithm<object>) : null;
};
