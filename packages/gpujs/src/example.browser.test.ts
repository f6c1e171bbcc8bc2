import { GPU } from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { trainSoftmax } from '../examples/softmax.js';

// The example of docs/gpujs.md on the GPU modes: gradients, parameters and state stay on the GPU.
describe.each(['webgl2', 'webgl', 'webgpu'] as const)('the softmax example in %s mode', (mode) => {
  it('learns three blobs with gradients from gpu.js kernels', async () => {
    const gpu = new GPU({ mode });
    const { initialLoss, finalLoss, accuracy, modes } = await trainSoftmax(gpu);
    await gpu.destroy();
    expect(initialLoss).toBeCloseTo(Math.log(3), 5);
    expect(finalLoss).toBeLessThan(0.3 * initialLoss);
    expect(accuracy).toBeGreaterThan(0.9);
    expect(modes).toEqual([mode]);
  });
});
