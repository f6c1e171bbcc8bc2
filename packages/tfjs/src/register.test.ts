import { scheduleFreeAlgorithms } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as sf from './index.js';

// Each test file gets its own module registry, hence its own tfjs serialization registry.
const registered = (name: string) => name in tf.serialization.SerializationMap.getMap().classNameMap;
const names = [
  'SGDScheduleFree',
  'AdamWScheduleFree',
  'AdamWScheduleFreePaper',
  'RAdamScheduleFree',
  'SGDScheduleFreeReference',
  'AdamWScheduleFreeReference',
  'ScheduleFreeWrapper',
];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('registration with tf.serialization (no side effect at import)', () => {
  it('importing the package registers nothing; constructing a class registers that class', () => {
    expect(names.filter(registered)).toEqual([]);
    new sf.SGDScheduleFree().dispose();
    expect(names.filter(registered)).toEqual(['SGDScheduleFree']);
    sf.AdamWScheduleFreePaper.register();
    expect(names.filter(registered)).toEqual(['SGDScheduleFree', 'AdamWScheduleFreePaper']);
    // The generic class and subclasses without their own className are not registered.
    class Custom extends sf.AdamWScheduleFree {}
    new Custom().dispose();
    new sf.ScheduleFreeTfjsOptimizer(scheduleFreeAlgorithms.AdamWScheduleFree).dispose();
    expect(registered('AdamWScheduleFree')).toBe(false);
  });

  it('registerOptimizers() registers every class, so tf.loadLayersModel can rebuild a saved model', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    model.compile({ optimizer: new sf.RAdamScheduleFree({ lr: 0.01 }), loss: 'meanSquaredError' });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    // A program that has not constructed one (or called registerOptimizers) cannot load it.
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    delete map.RAdamScheduleFree;
    await expect(tf.loadLayersModel(tf.io.fromMemory(artifacts!))).rejects.toThrow(/RAdamScheduleFree/);
    sf.registerOptimizers();
    expect(names.filter(registered)).toEqual(names);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.optimizer).toBeInstanceOf(sf.RAdamScheduleFree);
    loaded.optimizer.dispose();
    loaded.dispose();
    model.optimizer.dispose();
    model.dispose();
  });
});
