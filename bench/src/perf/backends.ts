import * as core from '@schedulefree/core';
import { fillRandom } from './measure.js';

/** One optimizer set up on one backend at one size, ready to be stepped repeatedly. */
export interface PerfSubject {
  /** One optimizer step on fixed gradients. */
  step(): unknown;
  /** Float32 elements read plus written per parameter per step (for the floor). */
  floatsMovedPerParam: number;
  /** The same backend's own baseline optimizer on the same parameters, when it has one. */
  baseline?: { name: string; step(): unknown };
  dispose(): void | Promise<void>;
}

export interface PerfBackend {
  readonly name: string;
  setup(optimizer: string, size: number): PerfSubject | Promise<PerfSubject>;
}

type CoreCtor = new (
  params: Record<string, core.TypedArray>,
  options: Record<string, unknown>,
) => core.ScheduleFreeOptimizer<core.TypedArray, object>;

const trainEvalClasses: Record<string, CoreCtor> = {
  SGDScheduleFree: core.SGDScheduleFree as unknown as CoreCtor,
  SGDScheduleFreeReference: core.SGDScheduleFreeReference as unknown as CoreCtor,
  AdamWScheduleFree: core.AdamWScheduleFree as unknown as CoreCtor,
  AdamWScheduleFreeReference: core.AdamWScheduleFreeReference as unknown as CoreCtor,
  AdamWScheduleFreePaper: core.AdamWScheduleFreePaper as unknown as CoreCtor,
  RAdamScheduleFree: core.RAdamScheduleFree as unknown as CoreCtor,
};

/** Floats moved by one step of a program: one read per tensor input, one write per output. */
export function floatsMoved(program: core.ElementwiseProgram): number {
  return program.inputs.length + program.outputs.length;
}

function coreBackend(
  name: string,
  dtype: 'float32' | 'float64',
  execution: core.TypedArrayExecution,
): PerfBackend {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  return {
    name,
    setup(optimizer, size) {
      const Cls = trainEvalClasses[optimizer];
      if (!Cls)
        throw new Error(
          `${name}: unknown optimizer ${optimizer}; try one of ${Object.keys(trainEvalClasses).join(', ')}`,
        );
      const param = fillRandom(new Ctor(size), 1);
      const grad = fillRandom(new Ctor(size), 2);
      const opt = new Cls({ w: param }, { execution, lr: 1e-3, weightDecay: 1e-4 }).train();
      opt.step({ w: grad }); // allocate state outside the timed region
      const plan = opt.algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
      return {
        step: () => opt.step({ w: grad }),
        floatsMovedPerParam: floatsMoved(plan.program),
        dispose: () => opt.dispose(),
      };
    },
  };
}

/** Backends of the core package; adapters add theirs in their own modules. */
export const corePerfBackends: PerfBackend[] = [
  coreBackend('core-f32', 'float32', 'wasm'),
  coreBackend('core-js-f32', 'float32', 'fused'),
  coreBackend('core-f64', 'float64', 'fused'),
  coreBackend('core-eager-f32', 'float32', 'eager'),
];
