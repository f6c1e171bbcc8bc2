import type { LegacyBackend as Backend, ElementwiseProgram } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { runFused } from './kernels/fused.js';
import type { TfjsOps } from './ops.js';

/** How programs execute: one fused kernel per variable where the backend allows it, or tfjs op chains. */
export type KernelMode = 'fused' | 'ops';

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Puts a program output into its slot: variables are assigned (O(1), no copy), anything else replaced. */
function store(slots: Record<string, tf.Tensor>, name: string, value: tf.Tensor): void {
  const current = slots[name];
  if (value === current) return;
  if (current instanceof tf.Variable) current.assign(value);
  // A slot the engine allocated with a plain op (e.g. a filled accumulator) becomes a variable.
  else slots[name] = tf.variable(value, false);
}

/**
 * The core {@link Backend} over tfjs: every program run for a whole parameter group happens inside
 * one `tf.tidy`, as one fused kernel per variable on the cpu and wasm backends (see
 * `kernels/fused.ts`) or as the program's op chain elsewhere. Outputs are assigned to the existing
 * variables, so parameters keep their identity and the engine never sees a replaced parameter.
 */
export function tfjsBackend(ops: TfjsOps, kernels: KernelMode): Backend<tf.Tensor> {
  return {
    ops,
    accepts: (value: unknown): value is tf.Tensor => value instanceof tf.Tensor,
    checkGradient(param, grad) {
      if (grad.isDisposed) return 'it has been disposed';
      if (grad.dtype !== 'float32') return `it has dtype ${grad.dtype}; pass a float32 gradient`;
      if (!sameShape(grad.shape, param.shape)) {
        const count = (n: number) => `${n} element${n === 1 ? '' : 's'}`;
        return `it has shape [${grad.shape}] (${count(grad.size)}) but the variable has shape [${param.shape}] (${count(param.size)})`;
      }
      return null;
    },
    runGroup(
      program: ElementwiseProgram,
      entries: ReadonlyArray<Record<string, tf.Tensor>>,
      scalars: Readonly<Record<string, number>>,
    ) {
      tf.tidy(() => {
        for (const slots of entries) {
          const outputs =
            (kernels === 'fused' ? runFused(program, slots, scalars) : null) ??
            program.body(ops, slots, scalars);
          for (const name of program.outputs) store(slots as Record<string, tf.Tensor>, name, outputs[name]);
        }
      });
    },
  };
}
