import {
  AdamCScheduleFreePlusPaper,
  AdamWScheduleFree,
  AdamWScheduleFreePaper,
  AdamWScheduleFreeReference,
  RAdamScheduleFree,
  SGDScheduleFree,
  SGDScheduleFreeReference,
} from './classes.js';
import { ScheduleFreeWrapper } from './wrapper.js';

/**
 * Registers every optimizer class of this package with `tf.serialization`, so that
 * `tf.loadLayersModel` can rebuild a model saved with one of them. Constructing an optimizer
 * registers its own class; call this once before loading a saved model in a program that has not
 * (or register just the class you load: `AdamWScheduleFree.register()`). Importing the package
 * registers nothing, so that bundlers can leave out the classes you do not use.
 */
export function registerOptimizers(): void {
  for (const cls of [
    SGDScheduleFree,
    AdamWScheduleFree,
    AdamWScheduleFreePaper,
    RAdamScheduleFree,
    SGDScheduleFreeReference,
    AdamWScheduleFreeReference,
    AdamCScheduleFreePlusPaper,
    ScheduleFreeWrapper,
  ])
    cls.register();
}
