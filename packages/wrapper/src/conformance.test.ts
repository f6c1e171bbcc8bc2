import {
  coreFactory,
  defineConformanceSuite,
  typedArrayReplayBackend,
  wrapperCaseOptimizers,
} from '@schedulefree/conformance';
import { describe, it } from 'vitest';
import { typedArrayFactory } from './replay-factory.js';

// The core backends with the wrapper classes: every golden case (wrapper-* included) and random
// wrapper cases against the float64 fused backend.
const factories = [coreFactory, typedArrayFactory];
const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused', factories);
for (const backend of [
  reference,
  typedArrayReplayBackend('core-f32', 'float32', 'wasm', factories),
  typedArrayReplayBackend('trace', 'float64', 'trace', factories),
  typedArrayReplayBackend('core-eager-f32', 'float32', 'eager', factories),
  typedArrayReplayBackend('core-js-f32', 'float32', 'fused', factories),
]) {
  defineConformanceSuite(
    backend,
    { describe, it },
    {
      reference: backend === reference ? undefined : reference,
      randomOptimizers: wrapperCaseOptimizers,
      randomCases: 20,
    },
  );
}
