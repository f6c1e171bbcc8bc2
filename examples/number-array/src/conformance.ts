import {
  algorithmReplayBackend,
  convertGrads,
  type HostRecord,
  type OptimizerLike,
  optimizerSubject,
  type ReplayBackend,
} from '@schedulefree/conformance';
import type { NumberArray } from './backend.js';
import { optimizerFor } from './optimizers.js';

/**
 * The conformance backends of this adapter, for its tests and for the replay CLI
 * (`pnpm conformance replay --module ./examples/number-array/src/conformance.ts --backend number-array`).
 */

const toHost = (record: Readonly<Record<string, NumberArray>>): HostRecord =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));

const toArrays = (record: HostRecord) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Array.from(v)]));

function replayBackend(deferred: boolean): Promise<ReplayBackend> {
  return algorithmReplayBackend({
    name: deferred ? 'number-array-deferred' : 'number-array',
    dtype: 'float64',
    features: ['frozen-params', 'schedule-free-plus'],
    create({ algorithm, params, options }) {
      const arrays = Array.isArray(params)
        ? params.map((g) => ({ ...g, params: toArrays(g.params) }))
        : toArrays(params);
      const opt = optimizerFor(algorithm, arrays, options, deferred);
      return optimizerSubject(opt as OptimizerLike<unknown>, {
        closure: algorithm.kind === 'closure',
        grads: (grads) => convertGrads(grads, (v) => Array.from(v)),
        params: () => toHost(opt.params),
        evalParams: async () => toHost(await opt.evalParams()),
      });
    },
  });
}

/** `number-array` (synchronous) and `number-array-deferred` (asynchronous). */
export async function conformanceBackends(): Promise<ReplayBackend[]> {
  return [await replayBackend(false), await replayBackend(true)];
}
