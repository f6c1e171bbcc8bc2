/**
 * gpu.js: `@schedulefree/gpujs` runs the update as generated WebGL kernels, with the parameters and
 * the optimizer's state in float32 textures. The model's gradients are computed in JavaScript, so
 * each step uploads them and reads the parameters back.
 */
import { AdamWScheduleFree, GpuJsBaseOptimizer, SGDScheduleFree } from '@schedulefree/gpujs';
import { AdamWAlgorithm } from '@schedulefree/wrapper';
import { GPU } from 'gpu.js';
import type { OptimizerFamily } from '../optimizers';
import { BackendUnavailable, type RunDriver, type RunSetup } from '../run-types';
import type { Params } from '../tasks';
import { type HostOptimizer, hostDriver } from './host';

let gpu: GPU | undefined;

/** One gpu.js instance per page, in WebGL2 mode. */
function webgl2(): GPU {
  if (!gpu) {
    gpu = new GPU({ mode: 'webgl2' });
    if (gpu.mode !== 'webgl2') {
      const mode = gpu.mode;
      gpu.destroy();
      gpu = undefined;
      throw new BackendUnavailable(`gpu.js started in ${mode} mode instead of WebGL2.`);
    }
  }
  return gpu;
}

type Optimizer = AdamWScheduleFree | SGDScheduleFree | GpuJsBaseOptimizer<{ lr: number }>;

function hostView(opt: Optimizer, scheduleFree: boolean): HostOptimizer {
  return {
    params: () => opt.readParams(),
    step: (grads) => opt.step(grads),
    evalParams: () => (scheduleFree ? opt.evalParams() : opt.readParams()),
    setLr(lr) {
      opt.paramGroups[0].lr = lr;
    },
    dispose: () => opt.dispose(),
  };
}

type Factory = (params: Params, setup: RunSetup) => Promise<HostOptimizer>;

/** No ScheduleFree+ here yet: only @schedulefree/core has it. */
export const hostFactories: Partial<Record<OptimizerFamily, Factory>> = {
  async 'sf-adamw'(params, { hp }) {
    const opt = new AdamWScheduleFree(webgl2(), params, {
      lr: hp.lr,
      betas: [hp.beta, 0.999],
      weightDecay: hp.weightDecay,
      warmupSteps: hp.warmupSteps,
    });
    await opt.train();
    return hostView(opt, true);
  },
  async 'sf-sgd'(params, { hp }) {
    const opt = new SGDScheduleFree(webgl2(), params, {
      lr: hp.lr,
      momentum: hp.beta,
      weightDecay: hp.weightDecay,
      warmupSteps: hp.warmupSteps,
    });
    await opt.train();
    return hostView(opt, true);
  },
  async adamw(params, { hp }) {
    const opt = new GpuJsBaseOptimizer(webgl2(), AdamWAlgorithm, params, {
      lr: hp.lr,
      betas: [hp.beta, 0.999],
      weightDecay: hp.weightDecay,
    });
    return hostView(opt as Optimizer, false);
  },
};

export async function createDriver(setup: RunSetup): Promise<RunDriver> {
  const params = setup.task.init(setup.hp.seed, setup.data);
  const factory = hostFactories[setup.kind.family];
  if (!factory) throw new BackendUnavailable(`${setup.kind.label} is not available on gpu.js.`);
  return hostDriver(setup, await factory(params, setup));
}
