import { check } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';

/** A layer as far as this helper is concerned. */
interface LayerLike {
  getClassName(): string;
  layers?: LayerLike[];
}

/** The optimizer's part: run a function with the variables at x. */
export interface EvalParamsRunner {
  withEvalParams<R>(fn: () => R): R;
}

/** Options of {@link recomputeBatchNormStatistics}. */
export interface BatchNormOptions {
  /** The Schedule-Free optimizer; in train mode the passes run at x and y is restored after. */
  optimizer?: EvalParamsRunner;
}

function batchNormLayers(layers: readonly LayerLike[], found: LayerLike[] = []): LayerLike[] {
  for (const layer of layers) {
    if (layer.getClassName() === 'BatchNormalization') found.push(layer);
    if (Array.isArray(layer.layers)) batchNormLayers(layer.layers, found);
  }
  return found;
}

/**
 * Re-estimates the moving mean and variance of every `BatchNormalization` layer (nested models
 * included) at x: BatchNorm statistics gathered during training belong to y, while the model is
 * evaluated at x. Runs one forward pass in training mode per batch and makes the moving
 * statistics the plain average over those passes (pass i uses momentum 1 − 1/i), then restores
 * each layer's momentum. With an optimizer in train mode, the passes run inside
 * `withEvalParams`, so the variables hold x during the passes and y again afterwards.
 * Returns the number of batches used. Run it before evaluating, predicting or saving.
 */
export async function recomputeBatchNormStatistics(
  model: tf.LayersModel,
  batches: Iterable<tf.Tensor | tf.Tensor[]> | AsyncIterable<tf.Tensor | tf.Tensor[]>,
  options: BatchNormOptions = {},
): Promise<number> {
  const layers = batchNormLayers(model.layers as unknown as LayerLike[]) as unknown as Array<{
    momentum: number;
  }>;
  check(
    layers.length > 0,
    'INVALID_PARAMS',
    () => 'recomputeBatchNormStatistics: the model has no BatchNormalization layer.',
  );
  // Materialize first: the passes must run synchronously inside withEvalParams.
  const inputs: Array<tf.Tensor | tf.Tensor[]> = [];
  for await (const batch of batches) inputs.push(batch);
  check(inputs.length > 0, 'INVALID_PARAMS', () => 'recomputeBatchNormStatistics: no batches were given.');
  const momenta = layers.map((l) => l.momentum);
  const passes = () => {
    try {
      inputs.forEach((batch, i) => {
        for (const layer of layers) layer.momentum = 1 - 1 / (i + 1);
        tf.tidy(() => {
          model.apply(batch, { training: true });
        });
      });
    } finally {
      layers.forEach((layer, i) => {
        layer.momentum = momenta[i];
      });
    }
  };
  if (options.optimizer) options.optimizer.withEvalParams(passes);
  else passes();
  return inputs.length;
}
