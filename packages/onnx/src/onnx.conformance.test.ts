import { defineConformanceSuite, typedArrayReplayBackend } from '@schedulefree/conformance';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { describe, it } from 'vitest';
import { onnxReplayBackend } from './conformance.js';

const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused');
defineConformanceSuite(
  await onnxReplayBackend('onnx-wasm', ortWeb, { executionProviders: ['wasm'] }),
  { describe, it },
  { reference },
);
defineConformanceSuite(
  await onnxReplayBackend('onnx-node', ortNode, { executionProviders: ['cpu'] }),
  { describe, it },
  { reference },
);
