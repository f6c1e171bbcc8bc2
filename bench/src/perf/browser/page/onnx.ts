/**
 * onnx-webgpu and onnx-wasm: the adapter's step graph against an AdamW graph (same decay) run by the same
 * runtime and provider (the adapter's `OnnxBaseOptimizer` with `AdamWAlgorithm` and the same decay, as in the Node
 * harness). On WebGPU the state and the gradient stay in GPU buffers ('gpu-buffer' IO binding).
 */
import * as sf from '@schedulefree/onnx';
import { floatsMoved } from '../../backends.js';
import { fillRandom } from '../../measure.js';
import { onnxClasses as classes } from '../../onnx-classes.js';
import type { PageRequest } from '../options.js';
import { cpuAdapter, type GpuAdapterInfoLike, webgpuAdapterInfo } from './adapter.js';
import type { PageSetup } from './subject.js';

interface GpuDeviceLike {
  adapterInfo?: GpuAdapterInfoLike;
  queue: { onSubmittedWorkDone(): Promise<void> };
}

/** The parts of onnxruntime-web the page uses beyond what the adapter takes. */
interface OrtWeb {
  env: { wasm: { wasmPaths?: string; numThreads?: number }; webgpu: { device: Promise<GpuDeviceLike> } };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => sf.OrtTensor;
  InferenceSession: {
    create(
      model: Uint8Array,
      options: Record<string, unknown>,
    ): Promise<{ run(feeds: Record<string, sf.OrtTensor>): Promise<Record<string, sf.OrtTensor>> }>;
  };
}

/** Puts the gradient in a GPU buffer once, through a one-node Identity session with 'gpu-buffer' outputs. */
async function uploadToGpu(ort: OrtWeb, data: Float32Array): Promise<sf.OrtTensor> {
  const model = sf.encodeModel({
    irVersion: sf.IR_VERSION,
    opset: sf.OPSET_VERSION,
    producerName: 'schedulefree-bench',
    producerVersion: '0',
    graph: {
      name: 'upload',
      nodes: [{ op: 'Identity', inputs: ['a'], outputs: ['b'] }],
      inputs: [{ name: 'a', type: 'float32', shape: [data.length] }],
      outputs: [{ name: 'b', type: 'float32', shape: [data.length] }],
      initializers: [],
    },
  });
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['webgpu'],
    preferredOutputLocation: 'gpu-buffer',
  });
  return (await session.run({ a: new ort.Tensor('float32', data, [data.length]) })).b;
}

export async function setup(request: PageRequest): Promise<PageSetup> {
  const webgpu = request.backend === 'onnx-webgpu';
  const Cls = classes[request.optimizer];
  if (!Cls) {
    throw new Error(
      `${request.backend}: unknown optimizer ${request.optimizer}; try one of ${Object.keys(classes).join(', ')}`,
    );
  }
  const ort = (webgpu
    ? await import('onnxruntime-web/webgpu')
    : await import('onnxruntime-web')) as unknown as OrtWeb;
  // The runtime's .mjs/.wasm files are served beside the page.
  ort.env.wasm.wasmPaths = new URL('/ort/', location.href).href;
  const executionProviders = [webgpu ? 'webgpu' : 'wasm'];
  // Unchecked steps, as tfjs's synchronous ones: a checked step reads the check's result back.
  const n = request.size;
  const hostGrad = fillRandom(new Float32Array(n), 2).map((v) => v * 1e-3);
  const opt = await Cls.create(
    ort as unknown as sf.OrtModuleInput,
    { w: fillRandom(new Float32Array(n), 1) },
    { lr: 1e-3, weightDecay: 1e-4, executionProviders, nonFiniteGrads: 'unchecked' },
  );
  const adam = await sf.OnnxBaseOptimizer.create(
    ort as unknown as sf.OrtModuleInput,
    sf.AdamWAlgorithm, // with the decay the Schedule-Free step has: like for like
    { w: fillRandom(new Float32Array(n), 1) },
    { lr: 1e-3, weightDecay: 1e-4, executionProviders, nonFiniteGrads: 'unchecked' },
  );
  const device = webgpu ? await ort.env.webgpu.device : undefined;
  const grad = device ? await uploadToGpu(ort, hostGrad) : hostGrad;
  // WebGPU: every session.run has submitted its work when it resolves; wait for the queue to drain.
  // wasm: the step's promise resolves with the outputs already in memory.
  const sync = device ? () => device.queue.onSubmittedWorkDone() : async () => {};
  await opt.train();
  const subject = {
    name: `${request.optimizer} (@schedulefree/onnx)`,
    step: () => opt.step({ w: grad }),
    sync,
  };
  const baseline = {
    name: 'AdamW graph, same decay (same runtime)',
    step: () => adam.step({ w: grad }),
    sync,
  };
  // State and sessions exist before anything is timed.
  await subject.step();
  await baseline.step();
  await sync();
  const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
  return {
    subject,
    baseline,
    adapter: device
      ? webgpuAdapterInfo(device.adapterInfo)
      : cpuAdapter(`onnxruntime-web wasm, ${ort.env.wasm.numThreads ?? 'default'} thread(s)`),
    sync: device
      ? 'device.queue.onSubmittedWorkDone() on ORT’s GPUDevice'
      : 'none needed (wasm outputs are in memory)',
    device: device ? 'webgpu' : 'cpu',
    floatsMovedPerParam: floatsMoved(plan.program),
    notes: [
      `stateLocation ${opt.stateLocation}`,
      `crossOriginIsolated ${String((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated)}`,
    ],
    async dispose() {
      await opt.dispose();
      await adam.dispose();
      if (grad !== hostGrad) (grad as sf.OrtTensor).dispose();
    },
  };
}
