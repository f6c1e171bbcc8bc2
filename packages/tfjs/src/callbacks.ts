import * as tf from '@tensorflow/tfjs';

/** What the callback needs from an optimizer: the mode switches of this package's optimizers. */
export interface ModeSwitching {
  train(): unknown;
  eval(): unknown;
}

/** Options of {@link ScheduleFreeCallback}. */
export interface ScheduleFreeCallbackOptions {
  /**
   * Switch to eval mode at the end of every epoch (and back to train mode at the start of the
   * next), so callbacks listed after this one (checkpoints, logging of x) see x. Default true.
   */
  evalAtEpochEnd?: boolean;
}

/**
 * Runs `fit` (or `fitDataset`) in train mode, the y-resident fast path, and leaves the variables
 * at x when training ends: `train()` at the start of training (and of each epoch), `eval()` at the
 * end of each epoch and of training. List it first among the callbacks.
 *
 * Without this callback the optimizers stay in eval mode and `fit` takes the closure form, which
 * costs two extra passes over the variables per step but is exact everywhere: tfjs runs a fit's
 * validation inside its last batch, before any epoch-end callback, so **with this callback the
 * validation metrics of `fit` are computed at y**, not x.
 */
export class ScheduleFreeCallback extends tf.Callback {
  private readonly evalAtEpochEnd: boolean;

  constructor(
    private readonly optimizer: ModeSwitching,
    options: ScheduleFreeCallbackOptions = {},
  ) {
    super();
    this.evalAtEpochEnd = options.evalAtEpochEnd ?? true;
  }

  override async onTrainBegin(): Promise<void> {
    this.optimizer.train();
  }

  override async onEpochBegin(): Promise<void> {
    this.optimizer.train();
  }

  override async onEpochEnd(): Promise<void> {
    if (this.evalAtEpochEnd) this.optimizer.eval();
  }

  override async onTrainEnd(): Promise<void> {
    this.optimizer.eval();
  }
}

/** `new ScheduleFreeCallback(optimizer, options)`. */
export const scheduleFreeCallback = (optimizer: ModeSwitching, options?: ScheduleFreeCallbackOptions) =>
  new ScheduleFreeCallback(optimizer, options);
