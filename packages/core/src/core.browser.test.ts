import { describe, expect, it } from 'vitest';
import { AdamWScheduleFree } from './index.js';

// The core runs unchanged in a browser: the fused loop is compiled there too.
describe('core in the browser', () => {
  it('steps a Float32Array parameter and moves to x', () => {
    const w = new Float32Array([1, -2, 3]);
    const opt = new AdamWScheduleFree({ w }, { lr: 0.1 }).train();
    opt.step({ w: new Float32Array([0.5, -0.5, 1]) });
    // First step: v̂ = g², so u = g/(|g| + eps) ≈ sign(g), and y = x = z = w − 0.1·sign(g).
    const expected = [0.9, -1.9, 2.9];
    expected.forEach((v, i) => expect(w[i]).toBeCloseTo(v, 6));
    expect(opt.evalParams().w).toEqual(w);
    opt.eval();
    expected.forEach((v, i) => expect(w[i]).toBeCloseTo(v, 6));
  });
});
