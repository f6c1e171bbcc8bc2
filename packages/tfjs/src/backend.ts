import {
  BACKEND_SPEC_VERSION,
  type Backend,
  compileReduction,
  type ElementwiseProgram,
  type HostArray,
  type KernelPlan,
  planFor,
  type ReduceRequest,
  type ReductionKernel,
  type RunRequest,
  ScheduleFreeError,
  scalarValues,
  type TensorStorage,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { FiniteChecks, syncReadAvailable } from './finite.js';
import { fusedKernel } from './kernels/fused.js';
import { hostAccessFor } from './kernels/host.js';
import { runWebgpuInPlace } from './kernels/webgpu-fused.js';
import { TfjsOps } from './ops.js';

/** How programs execute: one fused kernel per variable where the backend allows it, or tfjs op chains. */
export type KernelMode = 'fused' | 'ops';

/** Runs one program over one member's slots, leaving the outputs in the slots. */
export type RunProgram = (
  program: ElementwiseProgram,
  slots: Record<string, tf.Tensor>,
  scalars: Readonly<Record<string, number>>,
) => void;

/**
 * Takes over a run the backend cannot execute as an elementwise program (the wrapper's step through
 * its base optimizer). Returns false for runs it does not recognise. Called inside the group's `tidy`.
 */
export type GroupRunner = (request: RunRequest<tf.Tensor>, run: RunProgram) => boolean;

/** Options of {@link tfjsBackend}. */
export interface TfjsBackendOptions {
  /** Fused kernels (default) or op chains. */
  kernels?: KernelMode;
  /** The finite-check policy (default: check wherever possible). */
  checks?: FiniteChecks;
  /** A runner for programs that are not elementwise. */
  groupRunner?: GroupRunner;
}

const ops = new TfjsOps();

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * What makes a gradient unusable besides its size (the engine reports a size mismatch itself, as
 * `SHAPE_MISMATCH`): disposed, not float32 (`DTYPE_MISMATCH`), or the right number of elements in
 * another shape, refused here as `SHAPE_MISMATCH` (tfjs ops would broadcast it).
 */
function describeGradient(param: tf.Tensor, grad: tf.Tensor): string | null {
  if (grad.isDisposed) return 'it has been disposed';
  if (grad.dtype !== 'float32') return `it has dtype ${grad.dtype}; pass a float32 gradient`;
  if (grad.size === param.size && !sameShape(grad.shape, param.shape)) {
    throw new ScheduleFreeError(
      'SHAPE_MISMATCH',
      `gradient "${(param as tf.Variable).name}" has shape [${grad.shape}] but the variable has shape [${param.shape}]; pass a gradient of the variable's shape (reshape it).`,
    );
  }
  return null;
}

/** Reads a tensor without a synchronous read; a copy keeps today's values while the read is pending. */
async function readLater(t: tf.Tensor): Promise<HostArray> {
  const copy = tf.keep(tf.clone(t));
  try {
    return Float32Array.from((await copy.data()) as Float32Array);
  } finally {
    copy.dispose();
  }
}

/**
 * Storage over tfjs: the parameters are the user's `tf.Variable`s, updated with `assign`; state is
 * non-trainable variables (see {@link TfjsOps}). Gradients captured for a later step are clones,
 * which share storage and keep their values whatever happens to the original.
 */
function tfjsStorage(checks: FiniteChecks): TensorStorage<tf.Tensor> {
  return {
    accepts: (value: unknown): value is tf.Tensor => value instanceof tf.Tensor,
    size: (t) => t.size,
    clone: (t) => ops.clone(t),
    zerosLike: (t) => ops.zerosLike(t),
    fromHost: (values, like) =>
      tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(values), like.shape, 'float32'), false)),
    assign: (dst, src) => ops.assign(dst, src),
    read: (t) => (syncReadAvailable() ? ops.read(t) : readLater(t)),
    allFinite: (t) => checks.allFinite(t),
    dispose: (t) => t.dispose(),
    describeGradient,
    capture(grad) {
      if (grad.isDisposed) return grad;
      const copy = tf.keep(tf.clone(grad));
      checks.copied(grad, copy);
      return copy;
    },
  };
}

/** Leaves a program's outputs in the slots: variables are assigned (O(1), no copy). */
function store(
  program: ElementwiseProgram,
  slots: Record<string, tf.Tensor>,
  outputs: Record<string, tf.Tensor>,
) {
  for (const name of program.outputs) {
    if (outputs[name] !== slots[name]) ops.assign(slots[name], outputs[name]);
  }
}

/** Runs programs as fused kernels where the backend has them, else as op chains. */
const runner =
  (fused: boolean): RunProgram =>
  (program, slots, scalars) => {
    const kernel = fused ? fusedKernel(program, scalars) : null;
    store(program, slots, kernel ? kernel(slots) : program.body(ops, slots, scalars));
  };

const reductionKernels = new WeakMap<KernelPlan, ReductionKernel>();

/** The core's loop for a reduction plan, compiled once per plan. */
function reductionKernel(plan: KernelPlan): ReductionKernel {
  let kernel = reductionKernels.get(plan);
  if (!kernel) {
    kernel = compileReduction(plan);
    reductionKernels.set(plan, kernel);
  }
  return kernel;
}

/**
 * The sums of a reduction's terms over a group (ScheduleFree+'s Σ|g| and Σ g·(z − x)). On cpu and
 * wasm with fused kernels, the core's loop over the tensors' host memory (no copy, float64 sums, as
 * the core's own backends). Elsewhere, and with `kernels: 'ops'`, tfjs ops: one `tf.sum` per term and member, stacked, and one read of all
 * of them, synchronous (`dataSync`) in a synchronous call where the backend reads synchronously,
 * else asynchronous (`data()`); the members' float32 sums are added in float64.
 */
function reduceGroup(
  { program, graph, scalars, members }: ReduceRequest<tf.Tensor>,
  synchronousCall: boolean,
  fused: boolean,
): number[] | Promise<number[]> {
  const terms = program.outputs;
  const sums = terms.map(() => 0);
  const host = fused ? hostAccessFor(tf.getBackend(), tf.backend()) : null;
  if (host) {
    const plan = planFor(graph, scalars);
    const kernel = reductionKernel(plan);
    const args = scalarValues(plan, scalars);
    for (const { slots } of members) {
      const inputs = graph.inputs.map((name) => host.view(slots[name]));
      kernel(inputs, args).forEach((v, j) => {
        sums[j] += v;
      });
    }
    return sums;
  }
  const partial = tf.tidy(() =>
    tf.stack(
      members.map(({ slots }) => {
        const out = program.body(ops, slots, scalars);
        return tf.stack(terms.map((term) => tf.sum(out[term])));
      }),
    ),
  );
  const add = (values: ArrayLike<number>) => {
    for (let i = 0; i < values.length; i++) sums[i % terms.length] += values[i];
    return sums;
  };
  if (synchronousCall && syncReadAvailable()) {
    try {
      return add(partial.dataSync());
    } finally {
      partial.dispose();
    }
  }
  return partial.data().then(
    (values) => {
      partial.dispose();
      return add(values);
    },
    (error: unknown) => {
      partial.dispose();
      throw error;
    },
  );
}

/**
 * The core {@link Backend} over tfjs, per parameter: every run over a parameter group happens
 * inside one `tf.tidy`, as one fused kernel per variable (cpu: the core's JavaScript loop; wasm:
 * the core's SIMD kernel in tfjs's heap; webgl: shaders from the core's expressions) or as the
 * program's op chain elsewhere. Outputs are assigned to the existing variables, so parameters keep
 * their identity.
 */
export function tfjsBackend(options: TfjsBackendOptions = {}): Backend<tf.Tensor> {
  const {
    kernels = 'fused',
    checks = new FiniteChecks(undefined, () => 'ScheduleFree'),
    groupRunner,
  } = options;
  const run = runner(kernels === 'fused');
  return {
    specVersion: BACKEND_SPEC_VERSION,
    get name() {
      return `tfjs-${tf.getBackend()}`;
    },
    storage: tfjsStorage(checks),
    execution: {
      run(request) {
        tf.tidy(() => {
          if (groupRunner?.(request, run)) return;
          const { program, scalars } = request;
          // webgpu: one in-place dispatch per variable, when every member allows it.
          if (kernels === 'fused' && runWebgpuInPlace(request.graph, scalars, request.members)) return;
          // One kernel lookup for the whole group: every member runs the same program and scalars.
          const kernel = kernels === 'fused' ? fusedKernel(program, scalars) : null;
          for (const { slots } of request.members)
            store(program, slots, kernel ? kernel(slots) : program.body(ops, slots, scalars));
        });
      },
      reduce: (request) => reduceGroup(request, checks.inSynchronousCall, kernels === 'fused'),
    },
    capabilities: { layout: 'per-parameter', dtype: 'float32', reductions: true },
  };
}
