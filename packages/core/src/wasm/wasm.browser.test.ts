import { describe, expect, it } from 'vitest';
import { AdamWScheduleFree } from '../typed-array/classes.js';
import { Arena } from './arena.js';
import { RESIDENT_MIN_ELEMENTS, wasmSimdSupported } from './runtime.js';

// In Chromium the SIMD kernels really run (the conformance suite's core-f32 backend would
// silently pass on the JavaScript fallback otherwise), synchronous compilation on the main thread
// included, and large state moves into wasm memory.
describe('wasm SIMD in the browser', () => {
  it('detects SIMD', () => expect(wasmSimdSupported()).toBe(true));

  it('steps a large Float32Array with resident state, matching the JavaScript loop', () => {
    const n = RESIDENT_MIN_ELEMENTS + 3;
    const init = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const grad = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const [a, b] = [init.slice(), init.slice()];
    const wasm = new AdamWScheduleFree({ w: a }, { lr: 0.01, execution: 'wasm' }).train();
    const fused = new AdamWScheduleFree({ w: b }, { lr: 0.01, execution: 'fused' }).train();
    for (let s = 0; s < 3; s++) {
      wasm.step({ w: grad });
      fused.step({ w: grad });
    }
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
    expect(worst).toBeLessThan(2e-6);
    // The engine's own view of the member (protected in the façade): its z lives in wasm memory.
    const engine = (
      wasm as unknown as { engine: { layout(): Array<{ slots: Record<string, Float32Array> }> } }
    ).engine;
    expect(Arena.of(engine.layout()[0].slots.z)).toBeDefined();
  });
});
