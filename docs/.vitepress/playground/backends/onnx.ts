/**
 * ONNX Runtime Web: `@schedulefree/onnx` runs the update as a generated ONNX graph with the wasm or
 * the WebGPU execution provider (parameters and state stay in GPU buffers there). onnxruntime-web
 * has no training API, so the model's gradients are computed in JavaScript and passed in by name.
 */
import {
  AdamWAlgorithm,
  AdamWScheduleFree,
  OnnxBaseOptimizer,
  type OrtTensor,
  SGDScheduleFree,
} from '@schedulefree/onnx';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import * as ort from 'onnxruntime-web/webgpu';
import type { OptimizerFamily } from '../optimizers';
import { BackendUnavailable, type RunDriver, type RunSetup } from '../run-types';
import type { Params } from '../tasks';
import { type HostOptimizer, hostDriver } from './host';

export type OnnxProvider = 'wasm' | 'webgpu';

// The runtime's .wasm is a file of this site (no CDN). Threads need a cross-origin-isolated page,
// which a plain static host does not give; one thread otherwise.
ort.env.wasm.wasmPaths = { wasm: wasmUrl };
ort.env.wasm.numThreads = globalThis.crossOriginIsolated
  ? Math.min(4, navigator.hardwareConcurrency || 1)
  : 1;

/** Reads tensors back into host arrays; with `owned`, disposes them afterwards. */
async function toHost(tensors: Record<string, OrtTensor>, owned: boolean): Promise<Params> {
  const out: Params = {};
  for (const [name, t] of Object.entries(tensors)) {
    out[name] = Float32Array.from((await t.getData()) as Float32Array);
    if (owned) t.dispose();
  }
  return out;
}

type Optimizer = AdamWScheduleFree | SGDScheduleFree | OnnxBaseOptimizer<{ lr: number }>;

function hostView(opt: Optimizer, scheduleFree: boolean): HostOptimizer {
  return {
    params: async () => toHost(await opt.params(), false),
    step: (grads) => opt.step(grads),
    evalParams: async () =>
      scheduleFree
        ? toHost(await (opt as AdamWScheduleFree).evalParams(), true)
        : toHost(await opt.params(), false),
    setLr(lr) {
      opt.paramGroups[0].lr = lr;
    },
    dispose: () => opt.dispose(),
  };
}

type Factory = (params: Params, setup: RunSetup, provider: OnnxProvider) => Promise<HostOptimizer>;

/** No ScheduleFree+ here yet: only @schedulefree/core has it. */
export const hostFactories: Partial<Record<OptimizerFamily, Factory>> = {
  async 'sf-adamw'(params, { hp }, provider) {
    const opt = await AdamWScheduleFree.create(ort, params, {
      lr: hp.lr,
      betas: [hp.beta, 0.999],
      weightDecay: hp.weightDecay,
      warmupSteps: hp.warmupSteps,
      executionProviders: [provider],
    });
    await opt.train();
    return hostView(opt, true);
  },
  async 'sf-sgd'(params, { hp }, provider) {
    const opt = await SGDScheduleFree.create(ort, params, {
      lr: hp.lr,
      momentum: hp.beta,
      weightDecay: hp.weightDecay,
      warmupSteps: hp.warmupSteps,
      executionProviders: [provider],
    });
    await opt.train();
    return hostView(opt, true);
  },
  async adamw(params, { hp }, provider) {
    const opt = await OnnxBaseOptimizer.create(ort, AdamWAlgorithm, params, {
      lr: hp.lr,
      betas: [hp.beta, 0.999],
      weightDecay: hp.weightDecay,
      executionProviders: [provider],
    });
    return hostView(opt as Optimizer, false);
  },
};

export async function createDriver(setup: RunSetup, provider: OnnxProvider): Promise<RunDriver> {
  const params = setup.task.init(setup.hp.seed, setup.data);
  const factory = hostFactories[setup.kind.family];
  if (!factory) throw new BackendUnavailable(`${setup.kind.label} is not available on onnxruntime-web.`);
  return hostDriver(setup, await factory(params, setup, provider));
}
