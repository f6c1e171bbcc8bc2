import { AdamWScheduleFree, ScheduleFreeCallback } from '@schedulefree/tfjs';
import * as tf from '@tensorflow/tfjs';
import { type PhaseResult, releasedVerdict, runLoop } from '../loop.js';
import { BackendUnavailable, pseudoRandom, type SoakBackend, throughJson } from './types.js';

const OPTIONS = { lr: 1e-3, warmupSteps: 100, weightDecay: 1e-4 };

/** tfjs's own counters: each must be exactly flat after warm-up. */
function memoryCounters(): Record<string, number> {
  const { numTensors, numBytes, numDataBuffers } = tf.memory();
  return { numTensors, numBytes, numDataBuffers };
}

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) throw new Error('tf.setBackend returned false');
    await tf.ready();
  } catch (error) {
    throw new BackendUnavailable(`tfjs backend ${name} is not available: ${(error as Error).message}`);
  }
}

/** `applyGradients` in train mode on a [100, 50] kernel and a [50] bias, gradients of ½‖w − t‖². */
async function stepsPhase(steps: number): Promise<PhaseResult> {
  const before = tf.memory().numTensors;
  // In a tidy, so that the initial values are disposed (variables are kept).
  const w = tf.tidy(() => tf.variable(tf.tensor2d(pseudoRandom(5_000, 1), [100, 50]), true, 'soak_w'));
  const b = tf.tidy(() => tf.variable(tf.tensor1d(pseudoRandom(50, 2)), true, 'soak_b'));
  const tw = tf.tensor2d(pseudoRandom(5_000, 3), [100, 50]);
  const tb = tf.tensor1d(pseudoRandom(50, 4));
  const opt = new AdamWScheduleFree(OPTIONS).train();
  const phase = await runLoop({
    name: 'steps',
    unit: 'step',
    total: steps,
    counters: memoryCounters,
    body() {
      // Gradients are made in a tidy but applied outside it, so that a tensor the optimizer
      // leaks is not cleaned up by our tidy.
      const grads = tf.tidy(() => ({ [w.name]: tf.sub(w, tw), [b.name]: tf.sub(b, tb) }));
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
    },
    periodic() {
      tf.dispose(Object.values(opt.evalParams()));
      opt.eval();
      opt.loadStateDict(throughJson(opt.stateDict()));
      opt.train();
    },
  });
  opt.dispose();
  tf.dispose([w, b, tw, tb]);
  phase.verdicts.push(releasedVerdict('numTensors', before, tf.memory().numTensors));
  phase.pass = phase.verdicts.every((v) => v.pass);
  return phase;
}

/** A 4 → 16 → 3 classifier on 48 samples, compiled once with AdamWScheduleFree. */
function classifier(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 16,
        inputShape: [4],
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: new AdamWScheduleFree({ lr: 0.02, warmupSteps: 4, weightDecay: 0.01 }),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

function dataset(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = 48;
  const xs: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [Math.sin(i), Math.cos(1.7 * i), Math.sin(0.3 * i + 1), ((i * 7) % 11) / 11 - 0.5];
    xs.push(...row);
    labels.push((row[0] + row[1] > 0 ? 1 : 0) + (row[2] > 0.5 ? 1 : 0));
  }
  return tf.tidy(() => ({
    x: tf.tensor2d(xs, [n, 4]),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat() as tf.Tensor2D,
  }));
}

/**
 * Repeated `model.fit` (2 epochs of 6 batches, with validation): odd fits in the default eval mode
 * (closure form), even fits with a `ScheduleFreeCallback` switching modes per epoch.
 */
async function fitPhase(fits: number): Promise<PhaseResult> {
  const before = tf.memory().numTensors;
  const { x, y } = dataset();
  const model = classifier();
  const opt = model.optimizer as AdamWScheduleFree;
  let lastLoss = Number.NaN;
  const phase = await runLoop({
    name: 'fit',
    unit: 'fit',
    total: fits,
    counters: memoryCounters,
    async body(i) {
      const history = await model.fit(x, y, {
        epochs: 2,
        batchSize: 8,
        shuffle: false,
        validationSplit: 0.25,
        verbose: 0,
        callbacks: i % 2 ? [new ScheduleFreeCallback(opt)] : [],
      });
      lastLoss = history.history.loss.at(-1) as number;
    },
  });
  if (!Number.isFinite(lastLoss)) throw new Error(`fit: the loss became ${lastLoss}`);
  model.dispose();
  opt.dispose();
  tf.dispose([x, y]);
  phase.verdicts.push(releasedVerdict('numTensors', before, tf.memory().numTensors));
  phase.pass = phase.verdicts.every((v) => v.pass);
  return phase;
}

/** `@schedulefree/tfjs` on one of tfjs's Node backends. */
export function tfjsSoak(backendName: 'cpu' | 'wasm'): SoakBackend {
  return {
    name: `tfjs-${backendName}`,
    summary:
      `AdamWScheduleFree on tfjs ${backendName}: applyGradients on 5,050 parameters (a checkpoint per ` +
      'sampling interval), then repeated model.fit; counters from tf.memory()',
    counts: {
      default: { steps: 10_000, cycles: 0, fits: 20 },
      full: { steps: 10_000, cycles: 0, fits: 20 },
    },
    async run(counts, progress) {
      await useBackend(backendName);
      progress(`steps: ${counts.steps} × applyGradients`);
      const steps = await stepsPhase(counts.steps);
      progress(`fit: ${counts.fits} × model.fit`);
      const fit = await fitPhase(counts.fits);
      return [steps, fit];
    },
  };
}
