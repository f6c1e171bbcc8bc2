/** What a backend gives the training loop for one run. */
import type { Dataset } from './data';
import type { Hyperparameters, OptimizerKind } from './optimizers';
import type { Task } from './tasks';

export interface RunSetup {
  readonly task: Task;
  readonly data: Dataset | undefined;
  readonly kind: OptimizerKind;
  readonly hp: Hyperparameters;
}

/** The two points of a 2-D run after a step: y, where the gradient is taken, and x, where it is evaluated. */
export interface Iterates {
  readonly y: Float32Array;
  readonly x: Float32Array;
}

export interface RunDriver {
  /** One optimizer step (gradient at the current parameters, then the update). `t` counts from 0. */
  step(t: number): Promise<void>;
  /** Mean loss over all training rows at the evaluation point: x for Schedule-Free, else the parameters. */
  evalLoss(): Promise<number>;
  /** y and x of a 2-D problem, for drawing its paths. */
  iterates(): Promise<Iterates>;
  /** Test accuracy at the evaluation point, for classification tasks. */
  testAccuracy(): Promise<number | undefined>;
  dispose(): Promise<void>;
}

/** Thrown when a backend cannot run in this browser; the message is shown to the visitor. */
export class BackendUnavailable extends Error {
  override name = 'BackendUnavailable';
}
