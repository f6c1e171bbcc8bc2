import type { Dataset } from './data';
import { Random } from './random';

/**
 * Mini-batches of training rows, epoch by epoch in a seeded random order: every backend sees the
 * same batches for the same seed. Tasks without data get `undefined` (a full, exact gradient).
 */
export class BatchSampler {
  private readonly random: Random;
  private order: Int32Array = new Int32Array(0);
  private position = 0;

  constructor(
    private readonly data: Dataset | undefined,
    private readonly batchSize: number,
    seed: number,
  ) {
    this.random = new Random(seed * 7919 + 17);
  }

  next(): Int32Array | undefined {
    if (!this.data) return undefined;
    const rows = this.data.train.rows;
    const size = Math.max(1, Math.min(this.batchSize, rows));
    if (this.position + size > this.order.length) {
      this.order = this.random.permutation(rows);
      this.position = 0;
    }
    const batch = this.order.subarray(this.position, this.position + size);
    this.position += size;
    return batch;
  }
}
