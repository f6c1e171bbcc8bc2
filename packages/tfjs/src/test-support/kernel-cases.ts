import {
  closureStepProgram,
  composePrograms,
  copyProgram,
  type DirectionConfig,
  type ElementwiseProgram,
  fusedStepProgram,
  graphOf,
  interpret,
  lerpToZProgram,
  referenceStepProgram,
  TypedArrayOps,
} from '@schedulefree/core';
import { AdamWAlgorithm, RMSpropAlgorithm, ScheduleFreeWrapperAlgorithm } from '@schedulefree/wrapper';
import * as tf from '@tensorflow/tfjs';

import { runFused } from '../kernels/fused.js';

const directions: DirectionConfig[] = [
  { secondMoment: false, normalize: false, innerMomentum: false },
  { secondMoment: true, normalize: true, innerMomentum: false },
  { secondMoment: true, normalize: false, innerMomentum: false },
  { secondMoment: true, normalize: true, innerMomentum: true },
];

/** The fused program of @schedulefree/wrapper's wrapper around a base algorithm. */
function wrapperProgram(base: unknown, options: object, wrapper = {}): ElementwiseProgram {
  const algorithm = ScheduleFreeWrapperAlgorithm(base as never, wrapper);
  return algorithm.planStep({ ...algorithm.defaults, ...options } as never, algorithm.initialCounters())
    .program;
}

/** Every program structure the optimizers run, plus composed step-then-move programs. */
export const programs: ElementwiseProgram[] = [
  ...directions.flatMap((d) => [
    fusedStepProgram(d, false),
    fusedStepProgram(d, true),
    closureStepProgram(d, true),
  ]),
  referenceStepProgram(directions[1], 'z-at-y'),
  referenceStepProgram(directions[0], 'grad-at-y'),
  lerpToZProgram,
  copyProgram('x'),
  composePrograms(fusedStepProgram(directions[1], true), lerpToZProgram),
  wrapperProgram(RMSpropAlgorithm, { lr: 0.01 }, { weightDecayAtY: 0.1 }),
  wrapperProgram(AdamWAlgorithm, { lr: 0.01, weightDecay: 0.01 }),
];

let seed = 7;
const random = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};

/** Plausible values per slot: second moments positive, everything else of either sign. */
export function inputs(program: ElementwiseProgram, n: number): Record<string, Float32Array> {
  return Object.fromEntries(
    program.inputs.map((name) => {
      const positive = /^v$|Sq$|^base_square|^base_sum$/.test(name);
      return [name, Float32Array.from({ length: n }, () => (positive ? random() + 0.01 : 2 * random() - 1))];
    }),
  );
}

/** Scalars for both lerp branches: weights below and above 1/2. */
export function scalars(program: ElementwiseProgram, large: boolean): Record<string, number> {
  return Object.fromEntries(
    program.scalars.map((name) => {
      if (/^(c|w|toX|toY|yWeight|then_w)$/.test(name))
        return [name, large ? 0.75 + 0.2 * random() : 0.3 * random()];
      if (/bc|^eps$/.test(name)) return [name, 0.1 + random()];
      return [name, random()];
    }),
  );
}

/** Throws unless `got` agrees with `want` at float32 tolerance, naming the first element that does not. */
export function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= 1e-6 + 2e-6 * Math.abs(want[i]);
    if (!ok) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/**
 * Runs every program through the current backend's fused kernel, for sizes that exercise SIMD tails
 * and both lerp branches, and compares with the IR interpreter in float32 (one rounding per
 * operation). Also checks that inputs are left untouched. Throws on the first mismatch.
 */
export function checkFusedKernels(sizes: readonly number[] = [1, 3, 4, 5, 17, 1001]): void {
  const ops = new TypedArrayOps();
  for (const program of programs) {
    for (const n of sizes) {
      for (const large of [false, true]) {
        const host = inputs(program, n);
        const s = scalars(program, large);
        const want = interpret(graphOf(program), ops, host, s);
        tf.tidy(() => {
          const slots = Object.fromEntries(Object.entries(host).map(([k, v]) => [k, tf.tensor1d(v)]));
          const got = runFused(program, slots, s);
          if (!got) throw new Error(`no fused kernel on ${tf.getBackend()}`);
          for (const name of program.outputs) {
            expectClose(
              got[name].dataSync() as Float32Array,
              want[name] as Float32Array,
              `${program.key} n=${n} ${name}`,
            );
          }
          for (const [name, t] of Object.entries(slots)) {
            const same = (t.dataSync() as Float32Array).every((v, i) => Object.is(v, host[name][i]));
            if (!same) throw new Error(`${program.key}: input ${name} was modified`);
          }
        });
      }
    }
  }
}
