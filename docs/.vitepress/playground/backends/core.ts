/**
 * Plain typed arrays: `@schedulefree/core`'s optimizers (and `@schedulefree/wrapper`'s AdamW for
 * the scheduled baseline) update Float32Arrays in place, on the main thread.
 */
import { AdamCScheduleFreePlusPaper, AdamWScheduleFree, SGDScheduleFree } from '@schedulefree/core';
import { AdamW } from '@schedulefree/wrapper';
import type { OptimizerFamily } from '../optimizers';
import type { RunDriver, RunSetup } from '../run-types';
import type { Params } from '../tasks';
import { copyParams, type HostOptimizer, hostDriver } from './host';

type Factory = (params: Params, setup: RunSetup) => HostOptimizer;

/** Schedule-Free optimizers of the core, in train mode from the start. */
function scheduleFree(opt: AdamWScheduleFree | SGDScheduleFree | AdamCScheduleFreePlusPaper): HostOptimizer {
  opt.train();
  return {
    params: () => opt.params as Params,
    // ScheduleFree+ needs the loss at y for its Polyak step size; the others ignore it.
    step: (grads, loss) => opt.step(grads, { loss }),
    evalParams: () => opt.evalParams() as Params,
    dispose: () => opt.dispose(),
  };
}

export const hostFactories: Record<OptimizerFamily, Factory> = {
  'sf-adamw': (params, { hp }) =>
    scheduleFree(
      new AdamWScheduleFree(params, {
        lr: hp.lr,
        betas: [hp.beta, 0.999],
        weightDecay: hp.weightDecay,
        warmupSteps: hp.warmupSteps,
      }),
    ),
  'sf-sgd': (params, { hp }) =>
    scheduleFree(
      new SGDScheduleFree(params, {
        lr: hp.lr,
        momentum: hp.beta,
        weightDecay: hp.weightDecay,
        warmupSteps: hp.warmupSteps,
      }),
    ),
  'sf-plus': (params, { hp }) =>
    scheduleFree(
      new AdamCScheduleFreePlusPaper(params, { lr: hp.lr, sfBeta1: hp.beta, weightDecay: hp.weightDecay }),
    ),
  adamw(params, { hp }) {
    const opt = new AdamW(params, { lr: hp.lr, betas: [hp.beta, 0.999], weightDecay: hp.weightDecay });
    return {
      params: () => opt.params as Params,
      step: (grads) => opt.step(grads),
      evalParams: () => copyParams(opt.params as Params),
      setLr(lr) {
        opt.paramGroups[0].lr = lr;
      },
      dispose: () => opt.dispose(),
    };
  },
};

export async function createDriver(setup: RunSetup): Promise<RunDriver> {
  const params = setup.task.init(setup.hp.seed, setup.data);
  return hostDriver(setup, hostFactories[setup.kind.family](params, setup));
}
