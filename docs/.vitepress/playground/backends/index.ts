/**
 * Every backend the playground can train on, what each needs from the browser, and a check of
 * what this browser has. A backend's code (and its library) loads only when it is first used.
 */
import type { OptimizerFamily } from '../optimizers';
import type { RunDriver, RunSetup } from '../run-types';

export type BackendId =
  | 'tfjs-webgl'
  | 'tfjs-webgpu'
  | 'tfjs-wasm'
  | 'tfjs-cpu'
  | 'onnx-wasm'
  | 'onnx-webgpu'
  | 'gpujs-webgl'
  | 'core';

/** A browser feature a backend cannot run without. */
export type Feature = 'webgl2' | 'webgpu' | 'wasm';

export interface BackendInfo {
  readonly id: BackendId;
  readonly label: string;
  /** Where the gradient and the update are computed, in a few words. */
  readonly how: string;
  readonly needs?: Feature;
  /** The optimizer families its adapter has (see optimizers.ts). */
  readonly families: readonly OptimizerFamily[];
  create(setup: RunSetup): Promise<RunDriver>;
}

/** What every adapter has; ScheduleFree+ is in @schedulefree/core only, so far. */
const common: readonly OptimizerFamily[] = ['sf-adamw', 'sf-sgd', 'adamw'];

const tfjs = (name: 'webgl' | 'webgpu' | 'wasm' | 'cpu') => async (setup: RunSetup) =>
  (await import('./tfjs')).createDriver(setup, name);
const onnx = (provider: 'wasm' | 'webgpu') => async (setup: RunSetup) =>
  (await import('./onnx')).createDriver(setup, provider);

export const backends: readonly BackendInfo[] = [
  {
    id: 'core',
    label: 'typed arrays (core)',
    how: 'gradients in JavaScript; update by @schedulefree/core on Float32Arrays (WebAssembly SIMD)',
    families: [...common, 'sf-plus'],
    create: async (setup) => (await import('./core')).createDriver(setup),
  },
  {
    id: 'tfjs-webgl',
    label: 'tfjs · webgl',
    how: 'model, gradients and update in TensorFlow.js on WebGL',
    needs: 'webgl2',
    families: common,
    create: tfjs('webgl'),
  },
  {
    id: 'tfjs-webgpu',
    label: 'tfjs · webgpu',
    how: 'model, gradients and update in TensorFlow.js on WebGPU',
    needs: 'webgpu',
    families: common,
    create: tfjs('webgpu'),
  },
  {
    id: 'tfjs-wasm',
    label: 'tfjs · wasm',
    how: 'model, gradients and update in TensorFlow.js on WebAssembly',
    needs: 'wasm',
    families: common,
    create: tfjs('wasm'),
  },
  {
    id: 'tfjs-cpu',
    label: 'tfjs · cpu',
    how: 'model, gradients and update in TensorFlow.js, plain JavaScript kernels',
    families: common,
    create: tfjs('cpu'),
  },
  {
    id: 'onnx-wasm',
    label: 'onnxruntime-web · wasm',
    how: 'gradients in JavaScript; update as an ONNX graph on the wasm execution provider',
    needs: 'wasm',
    families: common,
    create: onnx('wasm'),
  },
  {
    id: 'onnx-webgpu',
    label: 'onnxruntime-web · webgpu',
    how: 'gradients in JavaScript; update as an ONNX graph on WebGPU, state in GPU buffers',
    needs: 'webgpu',
    families: common,
    create: onnx('webgpu'),
  },
  {
    id: 'gpujs-webgl',
    label: 'gpu.js · webgl',
    how: 'gradients in JavaScript; update as gpu.js WebGL2 kernels, state in textures',
    needs: 'webgl2',
    families: common,
    create: async (setup) => (await import('./gpujs')).createDriver(setup),
  },
];

export function backendInfo(id: BackendId): BackendInfo {
  const info = backends.find((b) => b.id === id);
  if (!info) throw new Error(`unknown backend ${id}`);
  return info;
}

/** Why each missing feature rules a backend out, in the visitor's terms. */
const missing: Record<Feature, string> = {
  webgl2: 'this browser has no WebGL2 (or it is switched off)',
  webgpu: 'this browser has no WebGPU adapter (WebGPU is off, unsupported, or has no usable GPU)',
  wasm: 'this browser has no WebAssembly',
};

/** For each feature, undefined when present, else the reason it is missing. */
export async function detectFeatures(): Promise<Record<Feature, string | undefined>> {
  return {
    webgl2: hasWebGL2() ? undefined : missing.webgl2,
    webgpu: (await hasWebGPU()) ? undefined : missing.webgpu,
    wasm: typeof WebAssembly === 'object' ? undefined : missing.wasm,
  };
}

function hasWebGL2(): boolean {
  try {
    const canvas = document.createElement('canvas');
    const gl = canvas.getContext('webgl2');
    gl?.getExtension('WEBGL_lose_context')?.loseContext();
    return gl !== null;
  } catch {
    return false;
  }
}

async function hasWebGPU(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}
