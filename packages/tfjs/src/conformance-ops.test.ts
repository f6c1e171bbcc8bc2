import '@tensorflow/tfjs-backend-wasm';
import { tfjsReplayBackend } from './conformance.js';
import { defineTfjsConformance } from './test-support/conformance-suite.js';

// The op-chain path (what webgl/webgpu run) on cpu and wasm: float32 rounding after every op.
defineTfjsConformance(tfjsReplayBackend('cpu', { name: 'tfjs-cpu-ops', kernels: 'ops' }));
defineTfjsConformance(tfjsReplayBackend('wasm', { name: 'tfjs-wasm-ops', kernels: 'ops' }), 9, 4);
