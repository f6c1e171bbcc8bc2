/**
 * Conformance backends of @schedulefree/tfjs (`tfjs-cpu`, `tfjs-wasm`) for the replay CLI and the
 * conformance suite: float32 variables; recorded gradients go through `applyGradients` in train
 * mode, and the closure classes run as `minimize` in eval mode (the closure form of this package),
 * or through their checked asynchronous forms (`applyGradientsAsync`, `minimizeAsync`) on backends
 * without synchronous reads (webgpu). Values are always read back asynchronously.
 * @packageDocumentation
 */

import type { CaseSpec, HostRecord, ReplayBackend, ReplaySubject } from '@schedulefree/conformance';
import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { KernelMode } from './backend.js';
import { algorithmWrapperFor, tfBaseFor } from './conformance-bases.js';
import { syncReadAvailable } from './finite.js';
import { ScheduleFreeTfjsOptimizer, ScheduleFreeWrapper } from './index.js';

type Nested = number | Nested[];

function shapeOf(value: Nested): number[] {
  return Array.isArray(value) ? [value.length, ...(value.length ? shapeOf(value[0]) : [])] : [];
}
const flat = (value: Nested): number[] => (Array.isArray(value) ? value.flatMap(flat) : [value]);

/**
 * The algorithm of a Schedule-Free class (each tfjs class is the generic optimizer over it). The
 * closure form of a tfjs optimizer is `minimize()` in eval mode: `XClosure` runs class X.
 */
function algorithmFor(name: string): Algorithm<object> | undefined {
  const algorithms = scheduleFreeAlgorithms as Record<string, Algorithm<object>>;
  return algorithms[name.replace(/Closure$/, '')];
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

/** Builds the optimizer of a case (with its parameter groups), or throws why it cannot. */
function buildOptimizer(
  spec: CaseSpec,
  variables: Record<string, tf.Variable>,
  kernels: KernelMode,
): ScheduleFreeTfjsOptimizer<object> {
  const groups = spec.groups?.map((g) => ({ ...g.options, params: g.params.map((n) => variables[n]) }));
  if (spec.optimizer === 'ScheduleFreeWrapper' || spec.optimizer === 'ScheduleFreeWrapperReference') {
    const base = spec.base ?? { type: '?', options: {} };
    const tfBase = spec.optimizer === 'ScheduleFreeWrapper' && !groups ? tfBaseFor(base) : null;
    if (tfBase) return new ScheduleFreeWrapper(tfBase, spec.options) as ScheduleFreeTfjsOptimizer<object>;
    // Otherwise the fused wrapper algorithm of @schedulefree/wrapper, on the generic optimizer.
    return new ScheduleFreeTfjsOptimizer(algorithmWrapperFor(spec), {
      ...base.options,
      kernels,
      ...(groups ? { paramGroups: groups } : {}),
    });
  }
  const algorithm = algorithmFor(spec.optimizer);
  if (!algorithm) throw new Error(`${spec.optimizer} is not available on tfjs`);
  return new ScheduleFreeTfjsOptimizer(algorithm, {
    ...spec.options,
    kernels,
    ...(groups ? { paramGroups: groups } : {}),
  });
}

/**
 * A conformance backend running the tfjs optimizers on a tfjs backend (`cpu`, `wasm`, `webgl`,
 * `webgpu`, ...), which must be registered; the backend is selected before every call.
 */
export function tfjsReplayBackend(backendName: string, options: TfjsReplayOptions = {}): ReplayBackend {
  const kernels = options.kernels ?? 'fused';
  const steps = options.steps ?? (syncReadAvailable(backendName) ? 'sync' : 'async');
  const use = async () => {
    if (tf.getBackend() !== backendName) {
      if (!(await tf.setBackend(backendName)))
        throw new Error(`tfjs backend ${backendName} is not available`);
    }
  };
  return {
    name: options.name ?? `tfjs-${backendName}`,
    dtype: 'float32',
    async create(spec: CaseSpec): Promise<ReplaySubject> {
      await use();
      const id = ++uid;
      const shapes: Record<string, number[]> = {};
      const variables: Record<string, tf.Variable> = {};
      for (const [name, value] of Object.entries(spec.params)) {
        shapes[name] = shapeOf(value as Nested);
        const init = tf.tensor(flat(value as Nested), shapes[name], 'float32');
        variables[name] = tf.variable(init, true, `${name}__${id}`);
        init.dispose();
      }
      const names = Object.keys(variables);
      let optimizer: ScheduleFreeTfjsOptimizer<object>;
      try {
        optimizer = buildOptimizer(spec, variables, kernels);
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
  };
}

/**
 * The backends the replay CLI finds (`pnpm conformance replay --backend tfjs-wasm`): `tfjs-cpu`
 * always, `tfjs-wasm` when `@tensorflow/tfjs-backend-wasm` is installed.
 */
export async function conformanceBackends(): Promise<ReplayBackend[]> {
  const backends = [tfjsReplayBackend('cpu')];
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    backends.push(tfjsReplayBackend('wasm'));
  } catch {
    // Not installed: only the cpu backend.
  }
  return backends;
}
