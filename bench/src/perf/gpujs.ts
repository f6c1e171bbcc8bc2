import type { PerfBackend } from './backends.js';

/** Perf backends of @schedulefree/gpujs (filled in by that adapter). */
export const perfBackends: PerfBackend[] = [];
