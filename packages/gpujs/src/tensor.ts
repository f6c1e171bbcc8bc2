import type { Resident } from './values.js';
import { shapeSize } from './values.js';

/** What a tensor holds: a value, or the promise of one while gpu.js is still producing it. */
export type Holding = Resident | Promise<Resident>;

/**
 * The optimizer's handle on one tensor (a parameter, a gradient or a state buffer). The core's
 * engine sees only handles. What a handle holds changes as steps run: kernel outputs are new values
 * (gpu.js `immutable` pipeline kernels), so a step replaces the value inside the handle and
 * releases the old one, and the handle itself stays. That is how a parameter is "updated in place"
 * from the engine's point of view, whatever gpu.js mode runs it.
 */
export class GpuTensor {
  /** Number of elements. */
  readonly size: number;
  /**
   * Host data (`cpu`, `webasm`) or a texture / WebGPU buffer; a promise while the kernel producing
   * it has not finished (WebGPU, `asyncKernels`); null before a parameter is uploaded and once
   * released.
   */
  value: Holding | null;
  /** Whether the optimizer created `value` (and so releases it when it is replaced). */
  owned: boolean;

  constructor(
    /** The gpu.js shape, x first: `[n]`, `[x, y]` or `[x, y, z]`. */
    readonly shape: readonly number[],
    value: Holding | null,
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
