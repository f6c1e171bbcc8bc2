/**
 * The training loop shared by the backends whose update runs on the backend while the model's
 * gradients are computed in JavaScript (typed arrays, ONNX Runtime, gpu.js): each step reads the
 * parameters (y for Schedule-Free), computes the loss and gradients of a mini-batch on the host, and
 * hands them to the optimizer.
 */
import { BatchSampler } from '../batches';
import { scheduleOf } from '../optimizers';
import type { RunDriver, RunSetup } from '../run-types';
import type { Params } from '../tasks';

/** An optimizer of any adapter, seen through host arrays. */
export interface HostOptimizer {
  /** The parameters as they are now (y while a Schedule-Free optimizer trains). */
  params(): Params | Promise<Params>;
  /** One update with the mini-batch's gradients; `loss` is there for optimizers that need it. */
  step(grads: Params, loss: number): unknown;
  /** The evaluation point (x for Schedule-Free) as new arrays. */
  evalParams(): Params | Promise<Params>;
  /** Sets the learning rate of the next step (scheduled runs only). */
  setLr?(lr: number): void;
  dispose(): unknown;
}

export function hostDriver(setup: RunSetup, optimizer: HostOptimizer): RunDriver {
  const { task, data, kind, hp } = setup;
  const batches = new BatchSampler(data, hp.batchSize, hp.seed);
  const schedule = scheduleOf(kind, hp);
  return {
    async step(t) {
      if (kind.schedule) optimizer.setLr?.(schedule(t));
      const at = await optimizer.params();
      const { loss, grads } = task.lossAndGrads(at, data, batches.next());
      await optimizer.step(grads, loss);
    },
    async evalLoss() {
      return task.trainLoss(await optimizer.evalParams(), data);
    },
    async iterates() {
      const y = Object.values(await optimizer.params())[0];
      const x = Object.values(await optimizer.evalParams())[0];
      return { y: Float32Array.from(y), x };
    },
    async testAccuracy() {
      return data && task.testAccuracy ? task.testAccuracy(await optimizer.evalParams(), data) : undefined;
    },
    async dispose() {
      await optimizer.dispose();
    },
  };
}

/** Copies of the parameters (optimizers update theirs in place or keep their own). */
export function copyParams(params: Params): Params {
  return Object.fromEntries(Object.entries(params).map(([name, p]) => [name, Float32Array.from(p)]));
}
