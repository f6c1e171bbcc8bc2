import {
  type LegacyBackend as Backend,
  type ElementwiseProgram,
  graphOf,
  TENSOR_OPS_SPEC_VERSION,
  type TensorOps,
} from '@schedulefree/core';
import type { GpuRuntime } from './runtime.js';
import { type GpuTensor, isGpuTensor } from './tensor.js';

const notElementwise = (what: string): never => {
  throw new Error(
    `gpujs backend: ${what} is not available as an eager operation; programs run as generated kernels`,
  );
};

/**
 * The core's {@link TensorOps} over {@link GpuTensor} handles. Storage operations schedule work on
 * the runtime's queue (so they keep their order with the kernels); arithmetic is never called
 * eagerly, because every program runs through {@link gpujsBackend}'s `runGroup` as generated kernels.
 */
export class GpuTensorOps implements TensorOps<GpuTensor, number> {
  readonly specVersion = TENSOR_OPS_SPEC_VERSION;
  readonly name: string;

  constructor(private readonly runtime: GpuRuntime) {
    this.name = `gpujs-${runtime.mode}`;
  }

  add = (): GpuTensor => notElementwise('add');
  sub = (): GpuTensor => notElementwise('sub');
  mul = (): GpuTensor => notElementwise('mul');
  div = (): GpuTensor => notElementwise('div');
  sqrt = (): GpuTensor => notElementwise('sqrt');
  abs = (): GpuTensor => notElementwise('abs');
  addScalar = (): GpuTensor => notElementwise('addScalar');
  mulScalar = (): GpuTensor => notElementwise('mulScalar');
  divScalar = (): GpuTensor => notElementwise('divScalar');
  lerp = (): GpuTensor => notElementwise('lerp');

  size = (a: GpuTensor): number => a.size;
  clone = (a: GpuTensor): GpuTensor => this.runtime.clone(a);
  zerosLike = (a: GpuTensor): GpuTensor => this.runtime.zeros(a.shape);
  assign = (dst: GpuTensor, src: GpuTensor): void => this.runtime.assign(dst, src);
  read = (a: GpuTensor): Float32Array => this.runtime.read(a);
  write = (dst: GpuTensor, values: ArrayLike<number>): void => this.runtime.write(dst, values);
  dispose = (a: GpuTensor): void => this.runtime.release(a);

  /**
   * Host data is checked here. A gradient on the GPU is checked only when it was read back ahead of
   * the step (the optimizer's `checkDeviceGradients` option); otherwise it is taken as finite, since
   * checking would cost a read-back every step.
   */
  allFinite(a: GpuTensor): boolean {
    if (a.finite !== undefined) return a.finite;
    const value = a.value;
    if (!(value instanceof Float32Array)) return true;
    return allFiniteHost(value);
  }
}

/** True when no element is NaN or ±Infinity. */
export function allFiniteHost(values: Float32Array): boolean {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * 0;
  return sum === 0;
}

/**
 * The core {@link Backend} of the gpu.js adapter: each program is traced once (cached by the core),
 * lowered to gpu.js kernels (built once per parameter shape) and run once per parameter per step,
 * with the step's scalars as `Float` arguments.
 */
export function gpujsBackend(runtime: GpuRuntime): Backend<GpuTensor> {
  const ops = new GpuTensorOps(runtime);
  return {
    ops,
    accepts: isGpuTensor,
    runGroup(program: ElementwiseProgram, entries, scalars) {
      const graph = graphOf(program);
      for (const slots of entries) runtime.run(graph, slots, scalars);
    },
  };
}
