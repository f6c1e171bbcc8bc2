import { tfjsReplayBackend } from './conformance.js';
import { defineTfjsConformance } from './test-support/conformance-suite.js';

defineTfjsConformance(tfjsReplayBackend('cpu'));
// The checked asynchronous steps (what webgpu runs): applyGradientsAsync and minimizeAsync.
defineTfjsConformance(tfjsReplayBackend('cpu', { name: 'tfjs-cpu-async', steps: 'async' }), 9, 3);
