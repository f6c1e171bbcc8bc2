import type { PerfBackend } from './backends.js';

/** Perf backends of @schedulefree/onnx (filled in by that adapter). */
export const perfBackends: PerfBackend[] = [];
