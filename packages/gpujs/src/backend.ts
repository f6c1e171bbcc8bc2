import {
  allFinite,
  BACKEND_SPEC_VERSION,
  type Backend,
  isThenable,
  planFor,
  scalarValues,
} from '@schedulefree/core';
import type { GpuRuntime } from './runtime.js';
import { type GpuTensor, isGpuTensor } from './tensor.js';

/**
 * The core {@link Backend} of the gpu.js adapter, per parameter over {@link GpuTensor} handles:
 * storage through the runtime, and execution as the kernels lowered from the core's plan of each
 * run (one kernel per program structure, shape and lerp pattern, built once), with the plan's
 * scalar arguments as `Float`s. A run returns a promise only when gpu.js works asynchronously.
 *
 * Where gpu.js works synchronously (every mode but webgpu, without `asyncKernels`) the backend says
 * so: a step made while nothing is pending then ends before it returns, and its host gradients need
 * no copy.
 *
 * Host gradients are checked for NaN and ±Infinity at once. A gradient on the GPU cannot be told
 * on the host: with `checkDeviceGradients` it is read back (every step) and checked; otherwise it is
 * taken as finite.
 */
export function gpujsBackend(runtime: GpuRuntime, checkDeviceGradients: boolean): Backend<GpuTensor> {
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: `gpujs-${runtime.mode}`,
    storage: {
      accepts: isGpuTensor,
      size: (t) => t.size,
      clone: (t) => runtime.clone(t),
      zerosLike: (like) => runtime.zeros(like.shape),
      fromHost: (values, like) => runtime.fromHost(values, like.shape),
      assign: (dst, src) => runtime.assign(dst, src),
      read: (t) => runtime.read(t),
      allFinite(t) {
        if (t.value instanceof Float32Array) return allFinite(t.value);
        if (!checkDeviceGradients) return null;
        const values = runtime.read(t);
        return isThenable(values) ? values.then(allFinite) : allFinite(values);
      },
      dispose: (t) => runtime.release(t),
      capture: (t) => runtime.capture(t),
    },
    execution: {
      // Σ over every element of each term (ScheduleFree+): partial sums on the GPU, read back once.
      reduce({ graph, scalars, members }) {
        const plan = planFor(graph, scalars);
        return runtime.reduce(
          plan,
          scalarValues(plan, scalars),
          members.map((m) => m.slots),
        );
      },
      run({ graph, scalars, members, group }) {
        const plan = planFor(graph, scalars);
        return runtime.run(
          plan,
          scalarValues(plan, scalars),
          members.map((m) => m.slots),
          group,
        );
      },
    },
    capabilities: {
      layout: 'per-parameter',
      dtype: 'float32',
      synchronous: runtime.synchronous,
      reductions: true,
    },
  };
}
