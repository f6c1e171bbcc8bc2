/**
 * The training loop of one run: steps, evaluations at x, the 2-D paths, timing, and short slices
 * of work so the page stays responsive and the chart redraws while it trains.
 */
import type { BackendInfo } from './backends';
import type { Hyperparameters, OptimizerKind } from './optimizers';
import type { RunDriver } from './run-types';
import type { Task } from './tasks';

export type RunStatus = 'starting' | 'running' | 'done' | 'stopped' | 'failed';

export interface RunRecord {
  readonly id: number;
  readonly task: Task;
  readonly backend: BackendInfo;
  readonly kind: OptimizerKind;
  readonly hp: Hyperparameters;
  readonly color: string;
  status: RunStatus;
  message?: string;
  stepsDone: number;
  /** Steps at which the training loss was evaluated, and the loss there (at x for Schedule-Free). */
  readonly evalSteps: number[];
  readonly losses: number[];
  /** For 2-D tasks: y, z and x after each step (z is recovered from y = βx + (1 − β)z). */
  readonly path: { y: number[][]; z: number[][]; x: number[][] };
  /** Wall time of the steps and evaluations, without the pauses that let the page redraw. */
  busyMs: number;
  testAccuracy?: number;
}

export const stepsPerSecond = (run: RunRecord): number =>
  run.busyMs > 0 ? (1000 * run.stepsDone) / run.busyMs : 0;

/** Yields to the browser without the 4 ms clamp of setTimeout (so pauses do not dominate). */
const channel = typeof MessageChannel === 'function' ? new MessageChannel() : undefined;
const waiting: Array<() => void> = [];
if (channel) channel.port1.onmessage = () => waiting.shift()?.();
function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => {
    if (!channel) return setTimeout(resolve, 0);
    waiting.push(resolve);
    channel.port2.postMessage(null);
  });
}

/** How long the loop works before it lets the page redraw. */
const SLICE_MS = 40;

export interface Control {
  /** Checked between steps; true ends the run as "stopped". */
  stopRequested(): boolean;
  /** Called after every slice of work and at the end. */
  progress(run: RunRecord): void;
}

export async function train(run: RunRecord, driver: RunDriver, control: Control): Promise<void> {
  const { hp, kind, task } = run;
  const twoD = task.id === 'rosenbrock';
  const recordPath = async () => {
    const { y, x } = await driver.iterates();
    run.path.y.push(Array.from(y));
    run.path.x.push(Array.from(x));
    run.path.z.push(
      kind.scheduleFree ? Array.from(y, (yi, i) => (yi - hp.beta * x[i]) / (1 - hp.beta)) : Array.from(y),
    );
  };
  run.status = 'running';
  let sliceStart = performance.now();
  const evaluate = async (step: number) => {
    const loss = await driver.evalLoss();
    run.evalSteps.push(step);
    run.losses.push(loss);
    if (!Number.isFinite(loss)) throw new Error(`the loss at step ${step} is ${loss}: the run diverged.`);
  };
  await evaluate(0);
  if (twoD) await recordPath();
  for (let t = 0; t < hp.steps; t++) {
    if (control.stopRequested()) {
      run.status = 'stopped';
      break;
    }
    await driver.step(t);
    run.stepsDone = t + 1;
    if (twoD) await recordPath();
    if ((t + 1) % hp.evalEvery === 0 || t + 1 === hp.steps) await evaluate(t + 1);
    const now = performance.now();
    if (now - sliceStart >= SLICE_MS) {
      run.busyMs += now - sliceStart;
      control.progress(run);
      await yieldToBrowser();
      sliceStart = performance.now();
    }
  }
  run.busyMs += performance.now() - sliceStart;
  // The last evaluation of a stopped run, so its curve ends where it stopped.
  if (run.status === 'stopped' && run.evalSteps.at(-1) !== run.stepsDone) await evaluate(run.stepsDone);
  run.testAccuracy = await driver.testAccuracy();
  if (run.status === 'running') run.status = 'done';
  control.progress(run);
}
