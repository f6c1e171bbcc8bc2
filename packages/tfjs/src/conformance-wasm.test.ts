import '@tensorflow/tfjs-backend-wasm';
import { tfjsReplayBackend } from './conformance.js';
import { defineTfjsConformance } from './test-support/conformance-suite.js';

defineTfjsConformance(tfjsReplayBackend('wasm'));
