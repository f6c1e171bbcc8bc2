import type { HostRecord, ReplayBackend } from '@schedulefree/conformance';
import {
  createClosureOptimizer,
  createOptimizer,
  type OnnxScheduleFreeClosureOptimizer,
  type OnnxScheduleFreeOptimizer,
  type OrtModuleInput,
} from './optimizers.js';
import type { OnnxEngineOptions } from './options.js';
import type { OrtTensor } from './runtime.js';

/**
 * Conformance backends of this package for `pnpm conformance replay --backend NAME`:
 * `onnx-wasm` (onnxruntime-web, wasm provider) and `onnx-node` (onnxruntime-node, cpu provider),
 * each present when its runtime can be imported. Every case runs through `createOptimizer` (or
 * `createClosureOptimizer`) with the case's algorithm, which is what every class of this package is.
 */

async function toHost(tensors: Record<string, OrtTensor>): Promise<HostRecord> {
  const out: HostRecord = {};
  for (const [name, t] of Object.entries(tensors))
    out[name] = Float64Array.from((await t.getData()) as Float32Array);
  return out;
}

const toFloat32 = <V extends ArrayLike<number> | null>(record: Readonly<Record<string, V>>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v && Float32Array.from(v)])) as Record<
    string,
    Float32Array | Exclude<V, ArrayLike<number>>
  >;

/** A conformance backend over these optimizers with the given runtime and engine options. */
export async function onnxReplayBackend(
  name: string,
  ort: OrtModuleInput,
  engineOptions: OnnxEngineOptions = {},
): Promise<ReplayBackend> {
  // Loaded here, not at the top: the conformance package is there when this runs (its CLI or a
  // test suite), but users of this module's other exports need not install it.
  const { algorithmReplayBackend, caseFeatures } = await import('@schedulefree/conformance');
  return algorithmReplayBackend({
    name,
    dtype: 'float32',
    features: ['frozen-params'],
    // The engine refuses a step that would advance per-parameter counters of only part of a flat group.
    supports: ({ spec, algorithm }) =>
      algorithm.memberCounters?.length && caseFeatures(spec).includes('frozen-params')
        ? `${algorithm.name} counts steps per parameter, and this backend keeps a group in one buffer: its parameters cannot go without a gradient on their own`
        : null,
    async create({ algorithm, params, options }) {
      const tensors = Array.isArray(params)
        ? params.map((g) => ({ ...g, params: toFloat32(g.params) }))
        : toFloat32(params);
      const all = { ...options, ...engineOptions };
      if (algorithm.kind === 'closure') {
        const opt: OnnxScheduleFreeClosureOptimizer<object> = await createClosureOptimizer(
          ort,
          algorithm,
          tensors,
          all,
        );
        return {
          train: async () => {},
          eval: async () => {},
          step: async (grads) => {
            const g = toFloat32(grads);
            await opt.step(() => g);
          },
          params: async () => toHost(await opt.params()),
          evalParams: async () => toHost(await opt.evalParams()),
          dispose: () => opt.dispose(),
        };
      }
      const opt: OnnxScheduleFreeOptimizer<object> = await createOptimizer(ort, algorithm, tensors, all);
      return {
        train: async () => void (await opt.train()),
        eval: async () => void (await opt.eval()),
        step: async (grads) => void (await opt.step(toFloat32(grads))),
        params: async () => toHost(await opt.params()),
        evalParams: async () => toHost(await opt.evalParams()),
        dispose: () => opt.dispose(),
      };
    },
  });
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
  if (web) backends.push(await onnxReplayBackend('onnx-wasm', web, { executionProviders: ['wasm'] }));
  const node = await tryImport('onnxruntime-node');
  if (node) backends.push(await onnxReplayBackend('onnx-node', node, { executionProviders: ['cpu'] }));
  return backends;
}
