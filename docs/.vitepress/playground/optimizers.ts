/**
 * The optimizers the playground offers, and the hyperparameters a run is made of.
 *
 * Extension point: an optimizer is a kind here plus, in each backend module that can run it, a
 * factory for its `family` (`hostFactories` in backends/core.ts, backends/onnx.ts and
 * backends/gpujs.ts, `stepperFor` in backends/tfjs.ts). A backend lists the families it has
 * (backends/index.ts); the others show the optimizer as not available there. Every backend's step
 * receives the mini-batch's loss with its gradients, for optimizers that need it (ScheduleFree+).
 */
import { type LrSchedule, lrSchedule } from '@schedulefree/core';
import type { TaskId } from './tasks';

/** How the update is computed; one factory per backend. */
export type OptimizerFamily = 'sf-adamw' | 'sf-sgd' | 'sf-plus' | 'adamw';
export type OptimizerId = 'sf-adamw' | 'sf-sgd' | 'sf-plus' | 'adamw-cosine' | 'adamw-linear';

export interface Hyperparameters {
  /** Peak learning rate. */
  lr: number;
  /** Schedule-Free interpolation β (SF-SGD's `momentum`, SF-AdamW's `betas[0]`), or Adam's β1. */
  beta: number;
  /** Decoupled weight decay (the Schedule-Free classes compute it at y). */
  weightDecay: number;
  warmupSteps: number;
  /** How long this run trains. */
  steps: number;
  /** The length a scheduled run is told in advance (its decay ends there). */
  horizon: number;
  batchSize: number;
  seed: number;
  /** Steps between two evaluations of the training loss. */
  evalEvery: number;
}

export interface OptimizerKind {
  readonly id: OptimizerId;
  readonly label: string;
  readonly family: OptimizerFamily;
  /** True when the parameters hold y while training and the run is evaluated at x. */
  readonly scheduleFree: boolean;
  /** For scheduled runs: the decay, which needs the horizon. */
  readonly schedule?: 'cosine' | 'linear';
  /** Defaults per task that differ from {@link baseDefaults}. */
  readonly defaults: Record<TaskId, Partial<Hyperparameters>>;
  /** Hyperparameters this optimizer has no use for (hidden while it is selected). */
  readonly unused?: readonly (keyof Hyperparameters)[];
}

export const baseDefaults: Hyperparameters = {
  lr: 0.01,
  beta: 0.9,
  weightDecay: 0,
  warmupSteps: 0,
  steps: 400,
  horizon: 400,
  batchSize: 64,
  seed: 1,
  evalEvery: 10,
};

const adamDefaults: Record<TaskId, Partial<Hyperparameters>> = {
  mlp: { lr: 0.01, warmupSteps: 20 },
  logistic: { lr: 0.05, warmupSteps: 10 },
  rosenbrock: { lr: 0.1, warmupSteps: 0, steps: 600, horizon: 600, evalEvery: 5 },
};

export const optimizers: readonly OptimizerKind[] = [
  {
    id: 'sf-adamw',
    label: 'Schedule-Free AdamW',
    family: 'sf-adamw',
    scheduleFree: true,
    defaults: adamDefaults,
  },
  {
    id: 'sf-sgd',
    label: 'Schedule-Free SGD',
    family: 'sf-sgd',
    scheduleFree: true,
    defaults: {
      mlp: { lr: 0.5, warmupSteps: 20 },
      logistic: { lr: 1, warmupSteps: 10 },
      rosenbrock: { lr: 0.002, warmupSteps: 0, steps: 600, horizon: 600, evalEvery: 5 },
    },
  },
  {
    id: 'sf-plus',
    label: 'ScheduleFree+ (Polyak step)',
    family: 'sf-plus',
    scheduleFree: true,
    // The lr multiplies a Polyak step size computed from the loss; no warmup.
    defaults: {
      mlp: { lr: 1 },
      logistic: { lr: 1 },
      rosenbrock: { lr: 1, steps: 600, horizon: 600, evalEvery: 5 },
    },
    unused: ['warmupSteps'],
  },
  {
    id: 'adamw-cosine',
    label: 'AdamW + cosine decay',
    family: 'adamw',
    scheduleFree: false,
    schedule: 'cosine',
    defaults: adamDefaults,
  },
  {
    id: 'adamw-linear',
    label: 'AdamW + linear decay',
    family: 'adamw',
    scheduleFree: false,
    schedule: 'linear',
    defaults: adamDefaults,
  },
];

export function optimizerKind(id: OptimizerId): OptimizerKind {
  const kind = optimizers.find((o) => o.id === id);
  if (!kind) throw new Error(`unknown optimizer ${id}`);
  return kind;
}

export function defaultsFor(kind: OptimizerKind, task: TaskId): Hyperparameters {
  return { ...baseDefaults, ...kind.defaults[task] };
}

/**
 * The learning rate of each step of a scheduled run (warmup inside the horizon, then the decay to
 * 0 at the horizon, 0 after it), from @schedulefree/core's schedules. Schedule-Free runs use a
 * constant lr and their own warmup.
 */
export function scheduleOf(kind: OptimizerKind, hp: Hyperparameters): LrSchedule {
  if (!kind.schedule) return () => hp.lr;
  const warmupSteps = Math.min(hp.warmupSteps, Math.max(0, hp.horizon - 1));
  return lrSchedule({ kind: kind.schedule, lr: hp.lr, totalSteps: hp.horizon, warmupSteps });
}
