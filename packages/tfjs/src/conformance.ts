/**
 * Conformance backends of @schedulefree/tfjs (`tfjs-cpu`, `tfjs-wasm`) for the replay CLI and the
 * conformance suite: float32 variables; recorded gradients go through `applyGradients` in train
 * mode, and the closure classes run as `minimize` in eval mode (the closure form of this package),
 * or through their checked asynchronous forms (`applyGradientsAsync`, `minimizeAsync`) on backends
 * without synchronous reads (webgpu). Values are always read back asynchronously.
 * @packageDocumentation
 */

import {
  algorithmReplayBackend,
  type CaseRun,
  type HostRecord,
  type ReplayBackend,
  type ReplaySubject,
} from '@schedulefree/conformance';
import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { KernelMode } from './backend.js';
import { tfBaseFor } from './conformance-bases.js';
import { syncReadAvailable } from './finite.js';
import { ScheduleFreeTfjsOptimizer, ScheduleFreeWrapper } from './index.js';

type Nested = number | Nested[];

function shapeOf(value: Nested): number[] {
  return Array.isArray(value) ? [value.length, ...(value.length ? shapeOf(value[0]) : [])] : [];
}

let uid = 0;

/** Options of {@link tfjsReplayBackend}. */
export interface TfjsReplayOptions {
  /** Name for the CLI (default `tfjs-<backend>`). */
  name?: string;
  /** Kernel mode of the optimizers (default `'fused'`). */
  kernels?: KernelMode;
  /**
   * How steps are taken: `'sync'` (`applyGradients`, `minimize`) or `'async'` (`applyGradientsAsync`,
   * `minimizeAsync`, which check gradients without a synchronous read). Default: `'async'` on
   * backends without a reliable synchronous read (webgpu), else `'sync'`.
   */
  steps?: 'sync' | 'async';
}

/**
 * The optimizer of a case: the tfjs wrapper around `tf.train.sgd` where that equals the case's
 * base, else the generic optimizer over the case's algorithm. The closure form of a tfjs optimizer
 * is `minimize()` in eval mode, so `XClosure` cases run the class X that way (as `fit` does).
 */
function buildOptimizer(
  { spec, algorithm, options }: Omit<CaseRun, 'params'>,
  variables: Record<string, tf.Variable>,
  kernels: KernelMode,
): ScheduleFreeTfjsOptimizer<object> {
  const tfBase =
    spec.optimizer === 'ScheduleFreeWrapper' && !spec.groups && spec.base && tfBaseFor(spec.base);
  if (tfBase) return new ScheduleFreeWrapper(tfBase, spec.options) as ScheduleFreeTfjsOptimizer<object>;
  const algorithms = scheduleFreeAlgorithms as Record<string, Algorithm<object>>;
  const run = algorithm.kind === 'closure' ? algorithms[algorithm.name.replace(/Closure$/, '')] : algorithm;
  const groups = spec.groups?.map((g) => ({ ...g.options, params: g.params.map((n) => variables[n]) }));
  return new ScheduleFreeTfjsOptimizer(run, {
    ...options,
    kernels,
    ...(groups ? { paramGroups: groups } : {}),
  });
}

/**
 * A conformance backend running the tfjs optimizers on a tfjs backend (`cpu`, `wasm`, `webgl`,
 * `webgpu`, ...), which must be registered; the backend is selected before every call.
 */
export function tfjsReplayBackend(
  backendName: string,
  options: TfjsReplayOptions = {},
): Promise<ReplayBackend> {
  const kernels = options.kernels ?? 'fused';
  const steps = options.steps ?? (syncReadAvailable(backendName) ? 'sync' : 'async');
  const use = async () => {
    if (tf.getBackend() !== backendName) {
      if (!(await tf.setBackend(backendName)))
        throw new Error(`tfjs backend ${backendName} is not available`);
    }
  };
  return algorithmReplayBackend({
    name: options.name ?? `tfjs-${backendName}`,
    dtype: 'float32',
    async create(run: CaseRun): Promise<ReplaySubject> {
      await use();
      const { spec } = run;
      const id = ++uid;
      const hostParams = Array.isArray(run.params)
        ? Object.assign({}, ...run.params.map((g) => g.params))
        : run.params;
      const shapes: Record<string, number[]> = {};
      const variables: Record<string, tf.Variable> = {};
      for (const [name, values] of Object.entries(hostParams as HostRecord)) {
        shapes[name] = shapeOf(spec.params[name] as Nested);
        const init = tf.tensor(Float32Array.from(values), shapes[name], 'float32');
        variables[name] = tf.variable(init, true, `${name}__${id}`);
        init.dispose();
      }
      const names = Object.keys(variables);
      let optimizer: ScheduleFreeTfjsOptimizer<object>;
      try {
        optimizer = buildOptimizer(run, variables, kernels);
      } catch (error) {
        tf.dispose(Object.values(variables));
        throw error;
      }
      const closure = spec.optimizer.endsWith('Closure');
      const tensors = (grads: HostRecord) =>
        Object.entries(grads).map(([name, values]) => ({
          name: variables[name]?.name ?? name,
          tensor: tf.tensor(
            Float32Array.from(values),
            variables[name] && values.length === variables[name].size ? shapes[name] : [values.length],
          ),
        }));
      const read = async (record: Record<string, tf.Tensor>, key: (name: string) => string) => {
        const values = await Promise.all(names.map((n) => record[key(n)].data()));
        return Object.fromEntries(names.map((n, i) => [n, Float64Array.from(values[i])]));
      };
      return {
        async train() {
          await use();
          if (!closure) optimizer.train();
        },
        async eval() {
          await use();
          if (!closure) optimizer.eval();
        },
        async step(grads) {
          await use();
          const named = tensors(grads as HostRecord);
          try {
            if (!closure) {
              if (steps === 'async') await optimizer.applyGradientsAsync(named);
              else optimizer.applyGradients(named);
              return;
            }
            const unknown = named.find((g) => !(g.name in tf.engine().registeredVariables));
            if (unknown) throw new Error(`gradient "${unknown.name}" does not match any parameter`);
            // sum(g · w) has gradient g with respect to w: the recorded gradient, taken at y.
            const varList = named.map((g) => tf.engine().registeredVariables[g.name]);
            const f = () => tf.addN(named.map((g, i) => tf.sum(tf.mul(g.tensor, varList[i])))) as tf.Scalar;
            if (steps === 'async') await optimizer.minimizeAsync(f, false, varList);
            else optimizer.minimize(f, false, varList);
          } finally {
            tf.dispose(named.map((g) => g.tensor));
          }
        },
        async params() {
          await use();
          return await read(variables, (n) => n);
        },
        async evalParams() {
          await use();
          const x = optimizer.evalParams();
          try {
            return await read(x, (n) => variables[n].name);
          } finally {
            tf.dispose(Object.values(x));
          }
        },
        async dispose() {
          optimizer.dispose();
          tf.dispose(Object.values(variables));
        },
      };
    },
  });
}

/**
 * The backends the replay CLI finds (`pnpm conformance replay --backend tfjs-wasm`): `tfjs-cpu`
 * always, `tfjs-wasm` when `@tensorflow/tfjs-backend-wasm` is installed.
 */
export async function conformanceBackends(): Promise<ReplayBackend[]> {
  const backends = [await tfjsReplayBackend('cpu')];
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    backends.push(await tfjsReplayBackend('wasm'));
  } catch {
    // Not installed: only the cpu backend.
  }
  return backends;
}
