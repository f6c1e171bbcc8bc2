import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import * as sf from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import { floatsMoved, type PerfBackend, type PerfSubject } from './backends.js';
import { fillRandom } from './measure.js';

/** The classes with train and eval modes, by name (each tfjs class is the generic optimizer over one). */
const algorithms = Object.fromEntries(
  Object.entries(
    scheduleFreeAlgorithms as Record<string, Algorithm<{ lr: number; weightDecay: number }>>,
  ).filter(([, a]) => a.kind !== 'closure'),
);

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
      const algorithm = algorithms[optimizer];
      if (!algorithm) {
        throw new Error(
          `${name}: unknown optimizer ${optimizer}; try one of ${Object.keys(algorithms).join(', ')}`,
        );
      }
      await useBackend(backendName);
      const w = tf.variable(tf.tensor1d(fillRandom(new Float32Array(size), 1)), true, `perf_w_${size}`);
      const g = tf.tensor1d(fillRandom(new Float32Array(size), 2).map((v) => v * 1e-3));
      const opt = new sf.ScheduleFreeTfjsOptimizer(algorithm, { lr: 1e-3, weightDecay: 1e-4 });
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
      const plan = algorithm.planStep(opt.paramGroups[0], opt.groupState(0));
      return {
        step,
        // The closure form adds the move to y (3 floats) and the fused move to x (3 more).
        floatsMovedPerParam: floatsMoved(plan.program) + (drive === 'minimize' ? 6 : 0),
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
