/**
 * The optimizers every typed-array experiment compares, built from this project's packages only:
 * Schedule-Free classes from `@schedulefree/core`, base optimizers from `@schedulefree/wrapper`
 * driven by `@schedulefree/core`'s learning-rate schedules, and Polyak / primal averaging as the
 * reference classes with β = 0 / β = 1.
 *
 * Every optimizer here is elementwise, so a run over parameters that concatenate several seeds is
 * exactly several independent runs; the experiments use that to step all seeds with one call.
 */
import {
  AdamWScheduleFree,
  AdamWScheduleFreeReference,
  type LrScheduleSpec,
  lrSchedule,
  SGDScheduleFree,
  SGDScheduleFreeReference,
} from '@schedulefree/core';
import { Adam, SGD } from '@schedulefree/wrapper';

/** Parameters (or gradients) of a typed-array model, by name. */
export type Params = Record<string, Float64Array>;

/** One optimizer run over caller-owned parameters, which it updates in place. */
export interface Run {
  /** One step with gradients taken at the current parameters. */
  step(grads: Params): void;
  /** The point to evaluate: x for the averaging methods, the parameters themselves otherwise. */
  evalPoint(): Params;
}

/** A named way to build a run from a peak learning rate and the run's length in steps. */
export interface Method {
  readonly name: string;
  create(params: Params, lr: number, totalSteps: number): Run;
}

/** The shape of a schedule over a run of `totalSteps`, given its peak lr. */
export type ScheduleShape = (lr: number, totalSteps: number) => LrScheduleSpec;

/** Schedule shapes by the names the experiments use. */
export const shapes = {
  fixed: (lr) => ({ kind: 'constant', lr }),
  'inverse-sqrt': (lr) => ({ kind: 'inverse-sqrt', lr }),
  linear: (lr, totalSteps) => ({ kind: 'linear', lr, totalSteps }),
  cosine: (lr, totalSteps) => ({ kind: 'cosine', lr, totalSteps }),
  'polynomial-2': (lr, totalSteps) => ({ kind: 'polynomial', lr, totalSteps, power: 2 }),
} satisfies Record<string, ScheduleShape>;

/** Warmup for a fraction of the run in front of a shape (rounded to whole steps). */
export function warmedUp(shape: ScheduleShape, fraction: number): ScheduleShape {
  return (lr, totalSteps) => ({ ...shape(lr, totalSteps), warmupSteps: Math.round(fraction * totalSteps) });
}

type Steppable = {
  paramGroups: Array<{ lr: number }>;
  step(grads: Params): unknown;
};

function scheduledRun(opt: Steppable, params: Params, spec: LrScheduleSpec): Run {
  const schedule = lrSchedule(spec);
  let t = 0;
  return {
    step(grads) {
      opt.paramGroups[0].lr = schedule(t++);
      opt.step(grads);
    },
    evalPoint: () => params,
  };
}

/** Plain SGD (the wrapper's, momentum 0 unless given) following a schedule. */
export function sgdWith(name: string, shape: ScheduleShape, options: { momentum?: number } = {}): Method {
  return {
    name,
    create(params, lr, totalSteps) {
      const spec = shape(lr, totalSteps);
      const opt = new SGD(params, { lr: spec.lr, momentum: options.momentum ?? 0 });
      return scheduledRun(opt as unknown as Steppable, params, spec);
    },
  };
}

/** Adam (the wrapper's, with an L2 term `weightDecay` in the gradient) following a schedule. */
export function adamWith(
  name: string,
  shape: ScheduleShape,
  options: { betas?: [number, number]; weightDecay?: number } = {},
): Method {
  return {
    name,
    create(params, lr, totalSteps) {
      const spec = shape(lr, totalSteps);
      const opt = new Adam(params, {
        lr: spec.lr,
        betas: options.betas ?? [0.9, 0.999],
        weightDecay: options.weightDecay ?? 0,
      });
      return scheduledRun(opt as unknown as Steppable, params, spec);
    },
  };
}

type ScheduleFreeLike = {
  train(): unknown;
  step(grads: Params): unknown;
  evalParams(): Record<string, unknown>;
};

function averagedRun(opt: ScheduleFreeLike): Run {
  opt.train();
  return {
    step: (grads) => {
      opt.step(grads);
    },
    evalPoint: () => opt.evalParams() as Params,
  };
}

/** Schedule-Free SGD (the fused class), evaluated at x. */
export function scheduleFreeSgd(
  name = 'schedule-free',
  options: { momentum?: number; warmupFraction?: number } = {},
): Method {
  return {
    name,
    create(params, lr, totalSteps) {
      const warmupSteps = Math.round((options.warmupFraction ?? 0) * totalSteps);
      return averagedRun(new SGDScheduleFree(params, { lr, momentum: options.momentum ?? 0.9, warmupSteps }));
    },
  };
}

/**
 * SGD with the Schedule-Free bookkeeping at an arbitrary β in [0, 1] (the reference class):
 * β = 0 is Polyak–Ruppert averaging (gradients at z, evaluate the average), β = 1 primal averaging.
 */
export function averagedSgd(name: string, beta: number): Method {
  return {
    name,
    create: (params, lr) => averagedRun(new SGDScheduleFreeReference(params, { lr, momentum: beta })),
  };
}

/** Schedule-Free AdamW (the fused class), evaluated at x. */
export function scheduleFreeAdam(
  name = 'schedule-free',
  options: { betas?: [number, number]; warmupFraction?: number; weightDecay?: number } = {},
): Method {
  return {
    name,
    create(params, lr, totalSteps) {
      const warmupSteps = Math.round((options.warmupFraction ?? 0) * totalSteps);
      return averagedRun(
        new AdamWScheduleFree(params, {
          lr,
          betas: options.betas ?? [0.9, 0.999],
          warmupSteps,
          weightDecay: options.weightDecay ?? 0,
        }),
      );
    },
  };
}

/** Adam with Schedule-Free averaging at an arbitrary β1 in [0, 1] (the reference class): Polyak / primal. */
export function averagedAdam(name: string, beta1: number, beta2 = 0.999): Method {
  return {
    name,
    create: (params, lr) =>
      averagedRun(new AdamWScheduleFreeReference(params, { lr, betas: [beta1, beta2] })),
  };
}
