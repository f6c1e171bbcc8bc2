import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, it } from 'vitest';
import { onnxReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');
const skip: Record<string, string> = {};
for (const name of ['wrapper-sgd', 'wrapper-rmsprop', 'wrapper-adam-b1-0', 'wrapper-reference-adamw']) {
  skip[name] = '@schedulefree/wrapper does not export its algorithms yet';
}

defineConformanceSuite(
  onnxReplayBackend('onnx-wasm', ortWeb, { executionProviders: ['wasm'] }),
  { describe, it },
  { reference, skip },
);
defineConformanceSuite(
  onnxReplayBackend('onnx-node', ortNode, { executionProviders: ['cpu'] }),
  { describe, it },
  { reference, skip },
);
