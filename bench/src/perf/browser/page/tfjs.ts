/**
 * tfjs-webgl and tfjs-webgpu: the adapter's optimizer (`applyGradients` in train mode, as in the
 * Node harness) against `tf.train.adam` on the same backend, each stepping its own variable.
 */
import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import * as sf from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { floatsMoved } from '../../backends.js';
import { fillRandom } from '../../measure.js';
import type { PageRequest } from '../options.js';
import type { AdapterInfo } from '../results.js';
import { defaultWebgpuAdapter, type GpuAdapterInfoLike, webglAdapter, webgpuAdapterInfo } from './adapter.js';
import type { PageSetup } from './subject.js';

const algorithms = Object.fromEntries(
  Object.entries(
    scheduleFreeAlgorithms as Record<string, Algorithm<{ lr: number; weightDecay: number }>>,
  ).filter(([, a]) => a.kind !== 'closure'),
);

/** tfjs-webgpu's backend keeps its GPUDevice in `device`; the adapter info is on the device. */
async function tfjsWebgpuAdapter(): Promise<AdapterInfo> {
  const device = (tf.backend() as unknown as { device?: { adapterInfo?: GpuAdapterInfoLike } }).device;
  return device?.adapterInfo ? webgpuAdapterInfo(device.adapterInfo) : defaultWebgpuAdapter();
}

/**
 * Waits for the device by reading one element derived from the parameter: WebGL's blocking
 * `dataSync` (a readPixels after every queued draw), WebGPU's `data()` (a mapAsync after every
 * submitted dispatch).
 */
function syncOn(w: tf.Variable, backend: 'webgl' | 'webgpu'): () => Promise<void> {
  return async () => {
    const one = tf.tidy(() => tf.add(w.slice(0, 1), 0));
    if (backend === 'webgl') one.dataSync();
    else await one.data();
    one.dispose();
  };
}

function memory(): { numTensors: number; bytesInGPU: number } {
  const m = tf.memory() as tf.MemoryInfo & {
    numBytesInGPU?: number;
    numBytesInGPUAllocated?: number;
    numBytesAllocatedInGPU?: number;
  };
  return {
    numTensors: m.numTensors,
    bytesInGPU: m.numBytesInGPUAllocated ?? m.numBytesAllocatedInGPU ?? m.numBytesInGPU ?? 0,
  };
}

export async function setup(request: PageRequest): Promise<PageSetup> {
  const backend = request.backend === 'tfjs-webgpu' ? 'webgpu' : 'webgl';
  const algorithm = algorithms[request.optimizer];
  if (!algorithm) {
    throw new Error(
      `${request.backend}: unknown optimizer ${request.optimizer}; try one of ${Object.keys(algorithms).join(', ')}`,
    );
  }
  if (!(await tf.setBackend(backend))) {
    const needs =
      backend === 'webgl' ? 'a WebGL context (see --use-angle)' : 'a WebGPU adapter (--enable-unsafe-webgpu)';
    throw new Error(`tfjs backend ${backend} is not available in this browser: it needs ${needs}`);
  }
  await tf.ready();
  const n = request.size;
  const w = tf.variable(tf.tensor1d(fillRandom(new Float32Array(n), 1)), true, 'perf_w_sf');
  const wAdam = tf.variable(tf.tensor1d(fillRandom(new Float32Array(n), 1)), true, 'perf_w_adam');
  const g = tf.tensor1d(fillRandom(new Float32Array(n), 2).map((v) => v * 1e-3));
  const opt = new sf.ScheduleFreeTfjsOptimizer(algorithm, { lr: 1e-3, weightDecay: 1e-4 });
  opt.train();
  const adam = tf.train.adam(1e-3);
  const grads = { [w.name]: g };
  const adamGrads = [{ name: wAdam.name, tensor: g }];
  const subject = {
    name: `${request.optimizer} (@schedulefree/tfjs)`,
    step: () => opt.applyGradients(grads),
    sync: syncOn(w, backend),
  };
  const baseline = {
    name: 'tf.train.adam',
    step: () => adam.applyGradients(adamGrads),
    sync: syncOn(wAdam, backend),
  };
  // State and kernels exist before anything is timed (as in the Node harness).
  subject.step();
  baseline.step();
  await subject.sync();
  await baseline.sync();
  const plan = algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
  const webglVersion = backend === 'webgl' ? tf.env().getNumber('WEBGL_VERSION') : 0;
  return {
    subject,
    baseline,
    adapter:
      backend === 'webgpu'
        ? await tfjsWebgpuAdapter()
        : webglAdapter(webglVersion === 2 ? 'webgl2' : 'webgl'),
    sync:
      backend === 'webgl'
        ? 'dataSync() of one element computed from the parameter (blocking readPixels)'
        : 'await data() of one element computed from the parameter (mapAsync)',
    device: backend,
    memory,
    floatsMovedPerParam: floatsMoved(plan.program),
    notes: [
      `tf.getBackend() = ${tf.getBackend()}${backend === 'webgl' ? `, WEBGL_VERSION ${webglVersion}` : ''}`,
    ],
    dispose() {
      opt.dispose();
      adam.dispose();
      tf.dispose([w, wAdam, g]);
    },
  };
}
