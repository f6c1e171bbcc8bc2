import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;

/** The subset of tfjs-backend-webgpu's program interface this package writes (plain data). */
interface WebgpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode: () => string;
}

/** The part of tfjs's webgpu backend used here (checked at run time). */
export interface WebgpuBackendLike {
  runWebGPUProgram(program: WebgpuProgram, inputs: Info[], dtype: 'float32'): Info;
}

/** Whether a backend instance looks like tfjs's webgpu backend. */
export function isWebgpuBackend(backend: unknown): backend is WebgpuBackendLike {
  return typeof (backend as Partial<WebgpuBackendLike> | null)?.runWebGPUProgram === 'function';
}

const FINITE_MASK = 'ScheduleFree:FiniteMask';
const WORKGROUP = 64;

/**
 * 1 where an element is finite and 0 where it is NaN or ±Infinity, decided on its bits (exponent
 * all ones) with integer operations only. WGSL lets implementations assume finite float math, so
 * a float test (`x != x`, `abs(x) == inf`, `x * 0`) may be folded away by a shader compiler; an
 * integer test on the bit pattern may not.
 */
function finiteMaskProgram(shape: number[]): WebgpuProgram {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    variableNames: ['A'],
    outputShape: shape,
    shaderKey: 'schedulefree_finite_mask',
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let bits = bitcast<u32>(getAByOutputIndex(index));
          setOutputAtIndex(index, select(1.0, 0.0, (bits & 0x7f800000u) == 0x7f800000u));
        }
      }
    `,
  };
}

function registerFiniteMask(): void {
  if (tf.getKernel(FINITE_MASK, 'webgpu')) return;
  tf.registerKernel({
    kernelName: FINITE_MASK,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as Info;
      if (!isWebgpuBackend(backend)) throw new Error(`${FINITE_MASK}: not a tfjs webgpu backend`);
      return backend.runWebGPUProgram(finiteMaskProgram([...x.shape]), [x], 'float32');
    },
  });
}

/**
 * A float32 tensor of `t`'s shape: 1 where `t` is finite, 0 where it is NaN or ±Infinity, computed
 * on the GPU from the bit patterns when the current backend is tfjs's webgpu backend; null elsewhere.
 */
export function webgpuFiniteMask(t: tf.Tensor): tf.Tensor | null {
  if (tf.getBackend() !== 'webgpu' || !isWebgpuBackend(tf.backend()) || t.dtype !== 'float32') return null;
  registerFiniteMask();
  return tf.engine().runKernel(FINITE_MASK, { x: t }, {}) as tf.Tensor;
}
