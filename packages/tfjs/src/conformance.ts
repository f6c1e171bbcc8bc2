/**
 * Conformance backends of @schedulefree/tfjs (`tfjs-cpu`, `tfjs-wasm`) for the replay CLI and the
 * conformance suite: float32 variables; recorded gradients go through `applyGradients` in train
 * mode, and the closure classes run as `minimize` in eval mode (the closure form of this package),
 * or through their checked asynchronous forms (`applyGradientsAsync`, `minimizeAsync`) on backends
 * without synchronous reads (webgpu). Values are always read back asynchronously.
 * @packageDocumentation
 */

import type {
  CaseSpec,
  HostGrads,
  HostRecord,
  ReplayBackend,
  ReplaySubject,
} from '@schedulefree/conformance';
import { type Algorithm, type StateDict, scheduleFreeAlgorithms } from '@schedulefree/core';
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
 * closure form of a tfjs optimizer is `minimize()` in eval mode: `XClosure` runs class X. Except
 * with frozen parameters: there the reference's closure classes leave a parameter without a
 * gradient at y, where class X in eval mode puts it back at x, so those cases run the closure
 * algorithm itself on the generic optimizer (its `minimize` is that class's `step(closure)`).
 */
function algorithmFor(spec: CaseSpec): Algorithm<object> | undefined {
  const algorithms = scheduleFreeAlgorithms as Record<string, Algorithm<object>>;
  const frozen = spec.steps.some((s) => Object.values(s.grads).some((g) => g === null));
  return (frozen && algorithms[spec.optimizer]) || algorithms[spec.optimizer.replace(/Closure$/, '')];
}

let uid = 0;

/** Disposes the tensors of a gradient record built by a subject (other values are left alone). */
function disposeRecord(record: unknown): void {
  if (record === null || typeof record !== 'object') return;
  for (const value of Object.values(record)) if (value instanceof tf.Tensor) value.dispose();
}

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
  const algorithm = algorithmFor(spec);
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
    features: ['frozen-params', 'schedule-free-plus'],
    async create(spec: CaseSpec): Promise<ReplaySubject> {
      await use();
      const id = ++uid;
      const shapes: Record<string, number[]> = {};
      const variables: Record<string, tf.Variable> = {};
      for (const [name, value] of Object.entries(spec.params)) {
        shapes[name] = shapeOf(value as Nested);
        const init = tf.tensor(flat(value as Nested), shapes[name], 'float32');
        // The case's names where they are free (messages name them), else made unique.
        const free = !(name in tf.engine().registeredVariables);
        variables[name] = tf.variable(init, true, free ? name : `${name}__${id}`);
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
      // The subject knows its variables from the start (stateDict() before any step).
      try {
        optimizer.attach(names.map((n) => variables[n]));
      } catch (error) {
        optimizer.dispose();
        tf.dispose(Object.values(variables));
        throw error;
      }
      const closure = spec.optimizer.endsWith('Closure');
      /** Host gradients as tensors (the variable's shape when the size fits); anything else passes through. */
      const tensors = (grads: unknown): unknown => {
        if (grads === null || typeof grads !== 'object' || Array.isArray(grads) || ArrayBuffer.isView(grads))
          return grads;
        return Object.fromEntries(
          Object.entries(grads as Record<string, unknown>).map(([name, values]) => {
            if (!(values instanceof Float64Array)) return [variables[name]?.name ?? name, values];
            const v = variables[name];
            const shape = v && values.length === v.size ? shapes[name] : [values.length];
            return [v?.name ?? name, tf.tensor(Float32Array.from(values), shape, 'float32')];
          }),
        );
      };
      /** Whether a record can be the gradient of a function of the variables (closure steps). */
      const expressible = (grads: unknown): grads is HostGrads =>
        grads !== null &&
        typeof grads === 'object' &&
        !Array.isArray(grads) &&
        !ArrayBuffer.isView(grads) &&
        Object.entries(grads).every(
          ([name, g]) =>
            name in variables &&
            (g === null || (g instanceof Float64Array && g.length === variables[name].size)),
        );
      const stopGradient = tf.customGrad((x, save) => {
        (save as (t: tf.Tensor[]) => void)([]);
        return { value: tf.clone(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
      });
      /**
       * A closure step as tfjs users take it: `minimize(f)` with f = loss + Σ g·w − stop(Σ g·w),
       * whose value is the recorded loss and whose gradient is the recorded g (taken at y). A null
       * gradient is a variable made non-trainable for the step (tfjs then gives it a null
       * gradient, as for a layer set trainable = false); a name left out is a variable f does not
       * reach. Records no f can produce (malformed input, or no gradient at all) come from tfjs's
       * `computeGradients` hook, which `minimize` calls.
       */
      const closureStep = async (grads: unknown, loss: number | undefined) => {
        const varList = names.map((n) => variables[n]);
        const frozen = names.filter((n) => expressible(grads) && grads[n] === null).map((n) => variables[n]);
        const own = optimizer as unknown as { computeGradients: tf.Optimizer['computeGradients'] };
        const given = tensors(grads) as Record<string, tf.Tensor | null>;
        const live = names.filter((n) => expressible(grads) && grads[n] instanceof Float64Array);
        // tfjs's minimize needs one trainable variable that f reaches: else through the hook too.
        if (live.length === 0) {
          own.computeGradients = () => ({ value: tf.scalar(loss ?? 0), grads: given as tf.NamedTensorMap });
        }
        const f = () => {
          const terms = live.map((n) => tf.sum(tf.mul(given[variables[n].name]!, variables[n])));
          const s = terms.length > 0 ? tf.addN(terms) : tf.scalar(0);
          return tf.add(tf.scalar(loss ?? 0), tf.sub(s, stopGradient(s) as tf.Tensor)) as tf.Scalar;
        };
        for (const v of frozen) v.trainable = false;
        try {
          if (steps === 'async') await optimizer.minimizeAsync(f, false, varList);
          else optimizer.minimize(f, false, varList);
        } finally {
          for (const v of frozen) v.trainable = true;
          delete (own as { computeGradients?: unknown }).computeGradients;
          disposeRecord(given);
        }
      };
      const read = async (record: Record<string, tf.Tensor>, key: (name: string) => string) => {
        const values = await Promise.all(names.map((n) => record[key(n)].data()));
        return Object.fromEntries(names.map((n, i) => [n, Float64Array.from(values[i])])) as HostRecord;
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
        async step(grads, loss) {
          await use();
          if (closure) return closureStep(grads, loss);
          const named = tensors(grads) as tf.NamedTensorMap;
          try {
            if (steps === 'async') await optimizer.applyGradientsAsync(named, { loss });
            else optimizer.applyGradients(named, { loss });
          } finally {
            disposeRecord(named);
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
        stateDict: () => (steps === 'async' ? optimizer.stateDictAsync() : optimizer.stateDict()),
        loadStateDict: (state) => optimizer.loadStateDict(state as StateDict),
        setOption(key, value) {
          const groups = optimizer.paramGroups as unknown as Array<Record<string, unknown>>;
          const previous = groups[0][key];
          for (const group of groups) group[key] = value;
          return previous;
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
