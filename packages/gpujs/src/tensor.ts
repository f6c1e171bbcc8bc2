import type { Resident } from './values.js';
import { shapeSize } from './values.js';

/**
 * The optimizer's handle on one tensor (a parameter, a gradient or a state buffer). The engine of
 * the core sees only handles; what a handle holds changes as work runs: host data in `cpu` and
 * `webasm` modes, a texture or WebGPU buffer in GPU modes. Because kernel outputs are new values
 * (gpu.js `immutable` pipeline kernels), a step replaces the value inside the handle and releases
 * the old one; the handle itself stays, so the engine's bookkeeping never changes.
 */
export class GpuTensor {
  /** Number of elements. */
  readonly size: number;
  /**
   * Current storage. Only meaningful once the runtime's queue is idle: asynchronous kernels set it
   * when their turn comes.
   */
  value: Resident | null;
  /** Whether the optimizer created `value` (and so releases it when it is replaced). */
  owned: boolean;
  /** A host copy fetched ahead of a synchronous read (e.g. `stateDict` over WebGPU). */
  hostCopy: Float32Array | null = null;
  /** For gradients: whether every element is finite, when that was checked ahead of the step. */
  finite: boolean | undefined = undefined;

  constructor(
    /** The gpu.js shape, x first: `[n]`, `[x, y]` or `[x, y, z]`. */
    readonly shape: readonly number[],
    value: Resident | null,
    owned: boolean,
  ) {
    this.size = shapeSize(shape);
    this.value = value;
    this.owned = owned;
  }
}

/** True for a {@link GpuTensor}. */
export function isGpuTensor(value: unknown): value is GpuTensor {
  return value instanceof GpuTensor;
}
