import type { SoakBackend } from './types.js';

/**
 * Every soak backend by name, loaded on demand so that each child process imports only the
 * runtime it soaks.
 */
export const soakBackends: Record<string, () => Promise<SoakBackend>> = {
  core: async () => (await import('./core.js')).coreSoak,
  'tfjs-cpu': async () => (await import('./tfjs.js')).tfjsSoak('cpu'),
  'tfjs-wasm': async () => (await import('./tfjs.js')).tfjsSoak('wasm'),
  'onnx-wasm': async () => (await import('./onnx.js')).onnxSoak('web'),
  'onnx-node': async () => (await import('./onnx.js')).onnxSoak('node'),
  'gpujs-webasm': async () => (await import('./gpujs.js')).gpujsSoak('webasm'),
  'gpujs-cpu': async () => (await import('./gpujs.js')).gpujsSoak('cpu'),
};
