import * as sf from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { PerfBackend, PerfSubject } from './backends.js';
import { fillRandom } from './measure.js';

type Ctor = new (options: Record<string, unknown>) => sf.ScheduleFreeTfjsOptimizer<object>;

const classes: Record<string, Ctor> = {
  SGDScheduleFree: sf.SGDScheduleFree as unknown as Ctor,
  AdamWScheduleFree: sf.AdamWScheduleFree as unknown as Ctor,
  AdamWScheduleFreePaper: sf.AdamWScheduleFreePaper as unknown as Ctor,
  RAdamScheduleFree: sf.RAdamScheduleFree as unknown as Ctor,
  SGDScheduleFreeReference: sf.SGDScheduleFreeReference as unknown as Ctor,
  AdamWScheduleFreeReference: sf.AdamWScheduleFreeReference as unknown as Ctor,
};

/** Floats read plus written per parameter by one train-mode step of each class (for the floor). */
const floatsMoved: Record<string, number> = {
  SGDScheduleFree: 5, // read y, z, g; write y, z
  AdamWScheduleFree: 7, // read y, z, v, g; write y, z, v
  AdamWScheduleFreePaper: 7,
  RAdamScheduleFree: 7,
  SGDScheduleFreeReference: 9,
  AdamWScheduleFreeReference: 11,
};

/**
 * How a step is driven: `train` is `applyGradients` with fixed gradients in train mode (the
 * y-resident fast path); `minimize` is `minimize(f)` in eval mode (the closure form `fit` uses),
 * with f = Σ g·w, against `tf.train.adam`'s `minimize` of the same f.
 */
type Drive = 'train' | 'minimize';

/** Selects a tfjs backend. Both run kernels synchronously, so a step's time is its wall time. */
async function useBackend(backendName: 'cpu' | 'wasm'): Promise<void> {
  if (backendName === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backendName))) throw new Error(`tfjs backend ${backendName} is not available`);
  await tf.ready();
}

function perfBackend(backendName: 'cpu' | 'wasm', drive: Drive): PerfBackend {
  const name = `tfjs-${backendName}${drive === 'minimize' ? '-minimize' : ''}`;
  return {
    name,
    async setup(optimizer, size): Promise<PerfSubject> {
      const Cls = classes[optimizer];
      if (!Cls) {
        throw new Error(
          `${name}: unknown optimizer ${optimizer}; try one of ${Object.keys(classes).join(', ')}`,
        );
      }
      await useBackend(backendName);
      const w = tf.variable(tf.tensor1d(fillRandom(new Float32Array(size), 1)), true, `perf_w_${size}`);
      const g = tf.tensor1d(fillRandom(new Float32Array(size), 2).map((v) => v * 1e-3));
      const opt = new Cls({ lr: 1e-3, weightDecay: 1e-4 });
      const adam = tf.train.adam(1e-3);
      const loss = () => tf.sum(tf.mul(g, w)) as tf.Scalar;
      const grads = { [w.name]: g };
      const gradList = [{ name: w.name, tensor: g }];
      let step: () => unknown;
      let baseline: () => unknown;
      if (drive === 'train') {
        opt.train();
        step = () => {
          opt.applyGradients(grads);
        };
        baseline = () => {
          adam.applyGradients(gradList);
        };
      } else {
        step = () => {
          opt.minimize(loss);
        };
        baseline = () => {
          adam.minimize(loss);
        };
      }
      // Allocate state outside the timed region.
      step();
      baseline();
      return {
        step,
        floatsMovedPerParam: floatsMoved[optimizer] + (drive === 'minimize' ? 6 : 0),
        baseline: { name: drive === 'train' ? 'tf.train.adam' : 'tf.train.adam (minimize)', step: baseline },
        dispose() {
          opt.dispose();
          adam.dispose();
          tf.dispose([w, g]);
        },
      };
    },
  };
}

/** `tfjs-cpu`, `tfjs-wasm` (train mode) and `tfjs-cpu-minimize`, `tfjs-wasm-minimize` (eval-mode closure form). */
export const perfBackends: PerfBackend[] = [
  perfBackend('wasm', 'train'),
  perfBackend('cpu', 'train'),
  perfBackend('wasm', 'minimize'),
  perfBackend('cpu', 'minimize'),
];
