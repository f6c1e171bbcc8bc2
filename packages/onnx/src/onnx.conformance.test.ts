import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, it } from 'vitest';
import { onnxReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');
// Per-parameter step counts (the wrapper's Adam) cannot advance for part of a flat group: the engine
// refuses such a step with UNSUPPORTED, and the backend's supports() says so to the replay CLI.
const skip = {
  'wrapper-adam-frozen': 'a parameter without a gradient in a flat group with per-parameter counters',
};
defineConformanceSuite(
  await onnxReplayBackend('onnx-wasm', ortWeb, { executionProviders: ['wasm'] }),
  { describe, it },
  { reference, skip },
);
defineConformanceSuite(
  await onnxReplayBackend('onnx-node', ortNode, { executionProviders: ['cpu'] }),
  { describe, it },
  { reference, skip },
);
