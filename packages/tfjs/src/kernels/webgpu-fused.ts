import {
  type Graph,
  type KernelPlan,
  lowerToWgsl,
  planFor,
  type WgslKernel,
  wgslDispatch,
  wgslUniforms,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';

/**
 * The fused update on tfjs's webgpu backend: one dispatch per variable of the core's WGSL kernel
 * (`lowerToWgsl`, in place), on the backend's own `GPUDevice`, reading and writing the variables'
 * own GPU buffers. Nothing is allocated per step after the first: no tensor, no buffer of tfjs's
 * pool (one uniform buffer per device is reused, rewritten with each run's scalars).
 *
 * The dispatches are recorded into tfjs's own command encoder, after whatever tfjs has recorded and
 * not yet submitted (the gradients), and submitted at the end of the run, so the order of GPU work
 * is the order of the calls. The written tensors' host copies (kept by tfjs after a read) are
 * dropped, so the next read downloads the new values.
 */

// The few WebGPU shapes used here (the WebGPU types are not in TypeScript's DOM library).
interface GpuBufferLike {
  readonly size: number;
  destroy(): void;
}
interface GpuPipelineLike {
  getBindGroupLayout(index: number): unknown;
}
interface GpuPassLike {
  setPipeline(pipeline: GpuPipelineLike): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
}
interface GpuDeviceLike {
  readonly limits: {
    readonly maxStorageBuffersPerShaderStage: number;
    readonly minUniformBufferOffsetAlignment: number;
  };
  readonly queue: { writeBuffer(buffer: GpuBufferLike, offset: number, data: ArrayBuffer): void };
  createShaderModule(descriptor: { code: string }): unknown;
  createComputePipeline(descriptor: object): GpuPipelineLike;
  createBindGroup(descriptor: object): unknown;
  createBuffer(descriptor: { size: number; usage: number }): GpuBufferLike;
}

/** What tfjs-backend-webgpu (4.22) keeps per tensor. */
interface TensorDataLike {
  dtype: string;
  refCount: number;
  values: unknown;
  resource: unknown;
  external?: boolean;
}

/** The members of tfjs-backend-webgpu's `WebGPUBackend` this path relies on (checked at run time). */
interface WebgpuInternals {
  readonly device: GpuDeviceLike;
  readonly tensorMap: { get(dataId: object): TensorDataLike | undefined; has(dataId: object): boolean };
  commandEncoder: { beginComputePass(descriptor?: object): GpuPassLike } | null;
  computePassEncoder: (GpuPassLike & { end(): void }) | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  read(dataId: object): Promise<unknown>;
}

const METHODS = [
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'submitQueue',
  'uploadToGPU',
  'read',
] as const;

/** Asynchronous reads in flight, by data id, and the ids written in place while one was (see {@link trackReads}). */
const readsInFlight = new WeakMap<object, number>();
const writtenDuringRead = new WeakSet<object>();
const tracked = new WeakSet<object>();

/**
 * Keeps tfjs's host copies right around in-place writes. tfjs keeps what an asynchronous read returns
 * as the tensor's host copy and answers later reads from it; a read that started before an in-place
 * write and ends after it would leave the old values there. So the backend's reads are counted per
 * data id, and when such a read ends its host copy is dropped (the read itself returns the values
 * of the moment it was made, as it should). Installed on the backend instance the first time a run
 * sees it, which is before any in-place write: the first step of an optimizer finds its state
 * sharing the variables' storage and runs the op chain.
 */
function trackReads(internals: WebgpuInternals): void {
  if (tracked.has(internals)) return;
  tracked.add(internals);
  const read = internals.read;
  internals.read = async function (this: unknown, dataId: object) {
    readsInFlight.set(dataId, (readsInFlight.get(dataId) ?? 0) + 1);
    try {
      return await read.call(this, dataId);
    } finally {
      const left = (readsInFlight.get(dataId) ?? 1) - 1;
      if (left > 0) readsInFlight.set(dataId, left);
      else readsInFlight.delete(dataId);
      if (writtenDuringRead.has(dataId)) {
        if (left === 0) writtenDuringRead.delete(dataId);
        const data = internals.tensorMap.has(dataId) ? internals.tensorMap.get(dataId) : undefined;
        if (data && data.resource != null) data.values = null;
      }
    }
  };
}

/** The backend's internals when it looks like the tfjs-backend-webgpu this was written against, else null. */
function internalsOf(backend: unknown): WebgpuInternals | null {
  const b = backend as Partial<Record<string, unknown>> | null;
  if (!b || typeof b !== 'object') return null;
  if (METHODS.some((m) => typeof b[m] !== 'function')) return null;
  const device = b.device as Partial<GpuDeviceLike> | undefined;
  const tensorMap = b.tensorMap as { get?: unknown } | undefined;
  if (
    typeof device?.createComputePipeline !== 'function' ||
    typeof device.createBindGroup !== 'function' ||
    typeof device.queue?.writeBuffer !== 'function' ||
    typeof device.limits?.maxStorageBuffersPerShaderStage !== 'number' ||
    typeof tensorMap?.get !== 'function' ||
    typeof (tensorMap as { has?: unknown }).has !== 'function' ||
    !(b.commandQueueOwnedIds instanceof WeakSet) ||
    typeof b.dispatchCountInPass !== 'number' ||
    !('commandEncoder' in b) ||
    !('computePassEncoder' in b)
  )
    return null;
  const internals = b as unknown as WebgpuInternals;
  trackReads(internals);
  return internals;
}

/**
 * Why the fused webgpu path cannot run on the current tfjs backend, or null when it can. (Each run
 * may still fall back to the op chain, see {@link runWebgpuInPlace}.)
 */
export function webgpuFusedUnavailable(): string | null {
  if (tf.getBackend() !== 'webgpu') return `the tfjs backend is ${tf.getBackend()}, not webgpu`;
  if (!internalsOf(tf.backend()))
    return 'the webgpu backend does not expose what the fused path needs (device, tensor map, command encoder)';
  return null;
}

const kernels = new WeakMap<KernelPlan, WgslKernel>();
const pipelines = new WeakMap<GpuDeviceLike, WeakMap<WgslKernel, GpuPipelineLike>>();
const uniformBuffers = new WeakMap<GpuDeviceLike, GpuBufferLike>();

function kernelFor(plan: KernelPlan): WgslKernel {
  let kernel = kernels.get(plan);
  if (!kernel) {
    kernel = lowerToWgsl(plan, plan.stores, { inPlace: true });
    kernels.set(plan, kernel);
  }
  return kernel;
}

function pipelineFor(device: GpuDeviceLike, kernel: WgslKernel): GpuPipelineLike {
  let byKernel = pipelines.get(device);
  if (!byKernel) {
    byKernel = new WeakMap();
    pipelines.set(device, byKernel);
  }
  let pipeline = byKernel.get(kernel);
  if (!pipeline) {
    const module = device.createShaderModule({ code: kernel.code });
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    byKernel.set(kernel, pipeline);
  }
  return pipeline;
}

// GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST (values fixed by the WebGPU specification).
const UNIFORM_USAGE = 0x40 | 0x08;

/** The device's uniform buffer, grown to hold `bytes`; reused by every run (each run is submitted before the next writes it). */
function uniformBuffer(device: GpuDeviceLike, bytes: number): GpuBufferLike {
  let buffer = uniformBuffers.get(device);
  if (!buffer || buffer.size < bytes) {
    buffer?.destroy();
    buffer = device.createBuffer({ size: Math.max(bytes, 256), usage: UNIFORM_USAGE });
    uniformBuffers.set(device, buffer);
  }
  return buffer;
}

/** One member's tensors for one kernel, checked: the bound slots and the number of elements. */
interface BoundMember {
  readonly tensors: tf.Tensor[];
  readonly n: number;
}

/**
 * The member's slots in binding order, or null when writing in place could be seen by someone else
 * or is not possible: a written tensor whose storage is shared (a clone, a tensor the variable was
 * made from: refcount above 1) or comes from outside tfjs, a tensor bound twice, a non-float32 or
 * texture-backed tensor, or sizes that differ.
 */
function bindMember(
  internals: WebgpuInternals,
  kernel: WgslKernel,
  slots: Readonly<Record<string, tf.Tensor>>,
): BoundMember | null {
  const tensors: tf.Tensor[] = [];
  const seen = new Set<object>();
  const n = slots.param?.size;
  if (typeof n !== 'number') return null;
  for (const { slot, role } of kernel.bindings) {
    const t = slots[slot];
    if (!(t instanceof tf.Tensor) || t.isDisposed || t.dtype !== 'float32' || t.size !== n) return null;
    const data = internals.tensorMap.get(t.dataId);
    if (data?.dtype !== 'float32' || seen.has(t.dataId)) return null;
    if (data.resource != null && !isGpuBuffer(data.resource)) return null;
    if (role !== 'input' && (data.refCount !== 1 || data.external)) return null;
    seen.add(t.dataId);
    tensors.push(t);
  }
  return { tensors, n };
}

const isGpuBuffer = (resource: unknown): boolean => {
  const ctor = (globalThis as { GPUBuffer?: abstract new (...args: never[]) => unknown }).GPUBuffer;
  return ctor ? resource instanceof ctor : typeof (resource as GpuBufferLike).size === 'number';
};

/**
 * Runs one group's program in place on tfjs's webgpu backend: the kernel plan (lerp branches,
 * scalar arguments) comes from the core for this run's scalars, and each member is one dispatch
 * over its variables' buffers. Returns false, having done nothing, when the current backend is not
 * a usable webgpu backend, the kernel needs more storage buffers than the device allows, or some
 * member cannot be updated in place (see {@link bindMember}); the caller then runs the op chain.
 */
export function runWebgpuInPlace(
  graph: Graph,
  scalars: Readonly<Record<string, number>>,
  members: ReadonlyArray<{ readonly slots: Readonly<Record<string, tf.Tensor>> }>,
): boolean {
  if (tf.getBackend() !== 'webgpu') return false;
  const internals = internalsOf(tf.backend());
  if (!internals) return false;
  const { device } = internals;
  const kernel = kernelFor(planFor(graph, scalars));
  if (kernel.bindings.length > device.limits.maxStorageBuffersPerShaderStage) return false;
  const bound: BoundMember[] = [];
  for (const { slots } of members) {
    const member = bindMember(internals, kernel, slots);
    if (!member) return false;
    if (member.n > 0) bound.push(member);
  }
  if (bound.length === 0) return true;

  const stride =
    Math.ceil(kernel.uniformBytes / device.limits.minUniformBufferOffsetAlignment) *
    device.limits.minUniformBufferOffsetAlignment;
  const uniforms = new Uint8Array(stride * bound.length);
  bound.forEach(({ n }, k) => {
    uniforms.set(new Uint8Array(wgslUniforms(kernel, scalars, n)), k * stride);
  });
  const uniform = uniformBuffer(device, uniforms.byteLength);
  device.queue.writeBuffer(uniform, 0, uniforms.buffer);

  const pipeline = pipelineFor(device, kernel);
  const layout = pipeline.getBindGroupLayout(0);
  for (const { tensors } of bound) for (const t of tensors) internals.uploadToGPU(t.dataId);
  internals.ensureCommandEncoderReady();
  if (!internals.computePassEncoder)
    internals.computePassEncoder =
      internals.commandEncoder!.beginComputePass() as WebgpuInternals['computePassEncoder'];
  const pass = internals.computePassEncoder!;
  bound.forEach(({ tensors, n }, k) => {
    const entries = [
      { binding: 0, resource: { buffer: uniform, offset: k * stride, size: kernel.uniformBytes } },
      ...kernel.bindings.map((b, j) => ({
        binding: b.binding,
        resource: { buffer: internals.tensorMap.get(tensors[j].dataId)!.resource },
      })),
    ];
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout, entries }));
    pass.dispatchWorkgroups(...wgslDispatch(n));
    for (const t of tensors) internals.commandQueueOwnedIds.add(t.dataId);
    internals.dispatchCountInPass++;
    // The host copy tfjs keeps after a read is stale now, and so will be one a pending read leaves.
    kernel.bindings.forEach((b, j) => {
      if (b.role === 'input') return;
      const { dataId } = tensors[j];
      internals.tensorMap.get(dataId)!.values = null;
      if (readsInFlight.has(dataId)) writtenDuringRead.add(dataId);
    });
  });
  // Submit now: the next run rewrites the uniform buffer.
  internals.endComputePassEncoder();
  internals.submitQueue();
  return true;
}
