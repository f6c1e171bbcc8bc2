import type { Algorithm } from '@schedulefree/core';
import {
  type BaseAlgorithm,
  baseAlgorithms,
  ScheduleFreeWrapperAlgorithm,
  ScheduleFreeWrapperReferenceAlgorithm,
} from '@schedulefree/wrapper';
import * as tf from '@tensorflow/tfjs';

/** A wrapper case's base optimizer: PyTorch class name and camelCase options. */
export interface BaseSpec {
  type: string;
  options: Record<string, unknown>;
}

const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
const zeroOrAbsent = (v: unknown) => v === undefined || v === 0 || v === false;

/**
 * The tfjs optimizer whose update equals a PyTorch base's to float32 rounding, or null: only plain
 * `SGD` (`tf.train.sgd`). `tf.train.adam` accumulates β^t in float32 (its bias correction drifts by
 * ~1e-5 relative after a few steps) and `tf.train.rmsprop` adds ε inside the square root, so those
 * cases run the fused wrapper algorithm instead; the tfjs wrapper around them is tested on its own.
 */
export function tfBaseFor(base: BaseSpec): tf.Optimizer | null {
  const o = base.options;
  const lr = num(o.lr, Number.NaN);
  if (!Number.isFinite(lr) || base.type !== 'SGD') return null;
  const plain = zeroOrAbsent(o.momentum) && zeroOrAbsent(o.weightDecay) && zeroOrAbsent(o.nesterov);
  return plain ? tf.train.sgd(lr) : null;
}

/** The fused wrapper algorithm of `@schedulefree/wrapper` for a wrapper case (any base it knows). */
export function algorithmWrapperFor(spec: {
  optimizer: string;
  options: Record<string, unknown>;
  base?: BaseSpec;
}): Algorithm<object> {
  const base = spec.base && (baseAlgorithms as Record<string, BaseAlgorithm<{ lr: number }>>)[spec.base.type];
  if (!base) throw new Error(`unknown base optimizer ${JSON.stringify(spec.base?.type)}`);
  const make =
    spec.optimizer === 'ScheduleFreeWrapperReference'
      ? ScheduleFreeWrapperReferenceAlgorithm
      : ScheduleFreeWrapperAlgorithm;
  return make(base, spec.options) as unknown as Algorithm<object>;
}
