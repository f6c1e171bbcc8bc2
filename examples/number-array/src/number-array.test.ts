import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import { AdamWScheduleFreeAlgorithm, ScheduleFreeError } from '@schedulefree/core';
import { describe, expect, it } from 'vitest';
import { conformanceBackends, create, optimizerFor } from './index.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');
for (const backend of await conformanceBackends()) {
  defineConformanceSuite(backend, { describe, it }, { reference });
}

describe('number-array example adapter', () => {
  it('trains a quadratic with a class from the registry', () => {
    const w = [4, -3];
    const opt = create('AdamWScheduleFree', { w }, { lr: 0.1 });
    (opt as { train(): unknown }).train();
    for (let i = 0; i < 200; i++) opt.step({ w: w.map((v) => v) } as never);
    (opt as { eval(): unknown }).eval();
    expect(Math.hypot(...w)).toBeLessThan(0.5);
  });

  it('reports bad input with the engine’s errors', () => {
    const opt = create('SGDScheduleFree', { w: [1, 2] });
    expect(() => opt.step({ w: [1, 2] } as never)).toThrow(ScheduleFreeError);
    (opt as { train(): unknown }).train();
    expect(() => opt.step({ w: [1] } as never)).toThrow(/has 1 elements but the parameter has 2/);
    expect(() => opt.step({ v: [1, 2] } as never)).toThrow(/does not match any parameter/);
  });

  it('queues asynchronous calls in call order on the deferred backend', async () => {
    const w = [1, 2, 3];
    const opt = optimizerFor(AdamWScheduleFreeAlgorithm as never, { w }, { lr: 0.1 }, true);
    const train = (opt as { train(): Promise<unknown> }).train();
    const step = opt.step({ w: [1, 1, 1] } as never) as Promise<boolean>;
    expect(w).toEqual([1, 2, 3]); // the run completes on a later task
    await train;
    await expect(step).resolves.toBe(true);
    expect(w).not.toEqual([1, 2, 3]);
  });
});
