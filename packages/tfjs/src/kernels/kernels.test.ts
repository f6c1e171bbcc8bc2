import '@tensorflow/tfjs-backend-wasm';
import {
  closureStepProgram,
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
import { describe, expect, it } from 'vitest';
import { composePrograms } from '../compose.js';
import { fusedKernelKind, hostAllFinite, runFused } from './fused.js';

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
const programs: ElementwiseProgram[] = [
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
function inputs(program: ElementwiseProgram, n: number): Record<string, Float32Array> {
  return Object.fromEntries(
    program.inputs.map((name) => {
      const positive = /^v$|Sq$|^base_square|^base_sum$/.test(name);
      return [name, Float32Array.from({ length: n }, () => (positive ? random() + 0.01 : 2 * random() - 1))];
    }),
  );
}

/** Scalars for both lerp branches: weights below and above 1/2. */
function scalars(program: ElementwiseProgram, large: boolean): Record<string, number> {
  return Object.fromEntries(
    program.scalars.map((name) => {
      if (/^(c|w|toX|toY|yWeight|then_w)$/.test(name))
        return [name, large ? 0.75 + 0.2 * random() : 0.3 * random()];
      if (/bc|^eps$/.test(name)) return [name, 0.1 + random()];
      return [name, random()];
    }),
  );
}

function expectClose(got: Float32Array, want: Float32Array, what: string) {
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= 1e-6 + 2e-6 * Math.abs(want[i]);
    if (!ok) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused kernels on ${backend}`, () => {
    it(`run the ${backend === 'wasm' ? 'WebAssembly SIMD' : 'JavaScript'} kernel`, async () => {
      await tf.setBackend(backend);
      expect(fusedKernelKind()).toBe(backend === 'wasm' ? 'wasm-simd' : 'js');
    });

    it('match the IR interpreter in float32 for every program, size (SIMD tails) and lerp branch', async () => {
      await tf.setBackend(backend);
      const ops = new TypedArrayOps();
      for (const program of programs) {
        for (const n of [1, 3, 4, 5, 17, 1001]) {
          for (const large of [false, true]) {
            const host = inputs(program, n);
            const s = scalars(program, large);
            const want = interpret(graphOf(program), ops, host, s);
            tf.tidy(() => {
              const slots = Object.fromEntries(Object.entries(host).map(([k, v]) => [k, tf.tensor1d(v)]));
              const got = runFused(program, slots, s)!;
              for (const name of program.outputs) {
                expectClose(
                  got[name].dataSync() as Float32Array,
                  want[name] as Float32Array,
                  `${program.key} n=${n} ${name}`,
                );
              }
              // Inputs are never written: tfjs tensors are immutable.
              for (const [name, t] of Object.entries(slots)) expect(t.dataSync()).toEqual(host[name]);
            });
          }
        }
      }
    });

    it('find NaN and ±Infinity anywhere, including the tail', async () => {
      await tf.setBackend(backend);
      for (const n of [1, 4, 7, 1003]) {
        const base = Float32Array.from({ length: n }, (_, i) => (i % 2 ? -3e38 : 0) + i);
        base[0] = -0;
        const ok = tf.tensor1d(base);
        expect(hostAllFinite([ok])).toBe(true);
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of new Set([0, n >> 1, n - 1])) {
            const values = base.slice();
            values[at] = bad;
            const t = tf.tensor1d(values);
            expect(hostAllFinite([ok, t])).toBe(false);
            t.dispose();
          }
        }
        ok.dispose();
      }
    });
  });
}
