import type {
  CaseSpec,
  HostRecord,
  NestedNumbers,
  ReplayBackend,
  ReplaySubject,
} from '@schedulefree/conformance';
import type { BaseAlgorithm } from '@schedulefree/wrapper';
import * as classes from './classes.js';
import type {
  OnnxScheduleFreeClosureOptimizer,
  OnnxScheduleFreeOptimizer,
  OrtModuleInput,
} from './optimizers.js';
import type { OnnxEngineOptions } from './options.js';
import type { OrtTensor } from './runtime.js';
import { baseAlgorithms, ScheduleFreeWrapper, ScheduleFreeWrapperReference } from './wrapper.js';

/**
 * Conformance backends of this package for `pnpm conformance replay --backend NAME`:
 * `onnx-wasm` (onnxruntime-web, wasm provider) and `onnx-node` (onnxruntime-node, cpu provider),
 * each present when its runtime can be imported.
 */

type AnyOptimizer = OnnxScheduleFreeOptimizer<object> | OnnxScheduleFreeClosureOptimizer<object>;
type Factory = (ort: OrtModuleInput, params: unknown, engine: OnnxEngineOptions) => Promise<AnyOptimizer>;

const flatten = (v: NestedNumbers): number[] => (Array.isArray(v) ? v.flatMap(flatten) : [v]);

/** The optimizer of a case: a class of this package, or a wrapper around a base algorithm. */
function factoryFor(spec: CaseSpec): Factory | string {
  if (spec.base) {
    const base = (baseAlgorithms as Record<string, BaseAlgorithm<{ lr: number }>>)[spec.base.type];
    const Wrapper = { ScheduleFreeWrapper, ScheduleFreeWrapperReference }[
      spec.optimizer as 'ScheduleFreeWrapper'
    ];
    if (!base || !Wrapper) return `${spec.optimizer} around ${spec.base.type} is not available here`;
    // The case's options are the wrapper's; the base's options are its group options.
    return (ort, params, engine) =>
      Wrapper.create(ort, base, params as never, { ...spec.base!.options, ...engine } as never, spec.options);
  }
  const Cls = (classes as Record<string, unknown>)[spec.optimizer] as
    | { create(ort: OrtModuleInput, params: never, options: never): Promise<AnyOptimizer> }
    | undefined;
  if (!Cls || typeof Cls.create !== 'function')
    return `${spec.optimizer} is not a class of @schedulefree/onnx`;
  return (ort, params, engine) => Cls.create(ort, params as never, { ...spec.options, ...engine } as never);
}

async function toHost(tensors: Record<string, OrtTensor>): Promise<HostRecord> {
  const out: HostRecord = {};
  for (const [name, t] of Object.entries(tensors))
    out[name] = Float64Array.from((await t.getData()) as Float32Array);
  return out;
}

/** A conformance backend over these optimizers with the given runtime and engine options. */
export function onnxReplayBackend(
  name: string,
  ort: OrtModuleInput,
  engineOptions: OnnxEngineOptions = {},
): ReplayBackend {
  return {
    name,
    dtype: 'float32',
    supports(spec) {
      const factory = factoryFor(spec);
      return typeof factory === 'string' ? factory : null;
    },
    async create(spec): Promise<ReplaySubject> {
      const factory = factoryFor(spec);
      if (typeof factory === 'string') throw new Error(factory);
      const tensors = Object.fromEntries(
        Object.entries(spec.params).map(([k, v]) => [k, Float32Array.from(flatten(v))]),
      );
      const params = spec.groups
        ? spec.groups.map((g) => ({
            params: Object.fromEntries(g.params.map((n) => [n, tensors[n]])),
            ...g.options,
          }))
        : tensors;
      const optimizer = await factory(ort, params, engineOptions);
      const closure = spec.optimizer.endsWith('Closure');
      const convert = (grads: HostRecord) =>
        Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, Float32Array.from(v)]));
      return {
        train: async () => {
          if (!closure) await (optimizer as OnnxScheduleFreeOptimizer<object>).train();
        },
        eval: async () => {
          if (!closure) await (optimizer as OnnxScheduleFreeOptimizer<object>).eval();
        },
        step: async (grads) => {
          const converted = convert(grads as HostRecord);
          if (closure) await (optimizer as OnnxScheduleFreeClosureOptimizer<object>).step(() => converted);
          else await (optimizer as OnnxScheduleFreeOptimizer<object>).step(converted);
        },
        params: async () => toHost(await optimizer.params()),
        evalParams: async () => toHost(await optimizer.evalParams()),
        dispose: () => optimizer.dispose(),
      };
    },
  };
}

async function tryImport(specifier: string): Promise<OrtModuleInput | null> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as OrtModuleInput;
  } catch {
    return null;
  }
}

/** `onnx-wasm` and `onnx-node`, for the runtimes that can be imported here. */
export async function conformanceBackends(): Promise<ReplayBackend[]> {
  const backends: ReplayBackend[] = [];
  const web = await tryImport('onnxruntime-web');
  if (web) backends.push(onnxReplayBackend('onnx-wasm', web, { executionProviders: ['wasm'] }));
  const node = await tryImport('onnxruntime-node');
  if (node) backends.push(onnxReplayBackend('onnx-node', node, { executionProviders: ['cpu'] }));
  return backends;
}
