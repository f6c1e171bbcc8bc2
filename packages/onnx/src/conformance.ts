import type { HostRecord, ReplayBackend } from '@schedulefree/conformance';
import {
  createClosureOptimizer,
  createOptimizer,
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

const toFloat32 = (record: Readonly<Record<string, ArrayLike<number>>>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float32Array.from(v)]));

/** A conformance backend over these optimizers with the given runtime and engine options. */
export async function onnxReplayBackend(
  name: string,
  ort: OrtModuleInput,
  engineOptions: OnnxEngineOptions = {},
): Promise<ReplayBackend> {
  // Loaded here, not at the top: the conformance package is there when this runs (its CLI or a
  // test suite), but users of this module's other exports need not install it.
  const { algorithmReplayBackend, convertGrads, optimizerSubject } = await import(
    '@schedulefree/conformance'
  );
  // Host arrays become Float32Arrays; nulls (frozen parameters) and malformed input pass through.
  const gradients = (grads: unknown) =>
    convertGrads(grads, (v) => Float32Array.from(v)) as Record<string, Float32Array | null>;
  return algorithmReplayBackend({
    name,
    dtype: 'float32',
    features: ['frozen-params', 'schedule-free-plus'],
    async create({ algorithm, params, options }) {
      const tensors = Array.isArray(params)
        ? params.map((g) => ({ ...g, params: toFloat32(g.params) }))
        : toFloat32(params);
      const all = { ...options, ...engineOptions };
      const closure = algorithm.kind === 'closure';
      const opt = closure
        ? await createClosureOptimizer(ort, algorithm, tensors, all)
        : await createOptimizer(ort, algorithm, tensors, all);
      return optimizerSubject(opt as OnnxScheduleFreeOptimizer<object>, {
        closure,
        grads: gradients,
        params: async () => toHost(await opt.params()),
        evalParams: async () => toHost(await opt.evalParams()),
      });
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
