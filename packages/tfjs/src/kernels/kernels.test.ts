import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkFusedKernels } from '../test-support/kernel-cases.js';
import { fusedKernelKind } from './fused.js';
import { hostAllFinite } from './host.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused kernels on ${backend}`, () => {
    it(`run the ${backend === 'wasm' ? 'WebAssembly SIMD' : 'JavaScript'} kernel`, async () => {
      await tf.setBackend(backend);
      expect(fusedKernelKind()).toBe(backend === 'wasm' ? 'wasm-simd' : 'js');
    });

    it('match the IR interpreter in float32 for every program, size (SIMD tails) and lerp branch', async () => {
      await tf.setBackend(backend);
      checkFusedKernels();
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
