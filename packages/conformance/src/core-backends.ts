import * as core from '@schedulefree/core';
import type { HostGrads, HostRecord, ReplayBackend, ReplaySubject } from './backend.js';
import { type CaseSpec, flattenRecord, isClosureClass } from './cases.js';
import { convertGrads } from './replay.js';
import { optimizerSubject } from './subject.js';

type TypedArray = Float32Array | Float64Array;
type TypedParams = Record<string, TypedArray>;
type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor;

/** An optimizer over typed arrays as the core classes (and the wrapper package's) expose it. */
export interface TypedArrayOptimizerLike {
  readonly params: Readonly<Record<string, TypedArray>>;
  evalParams(): Record<string, TypedArray>;
  dispose(): void;
  train?(): unknown;
  eval?(): unknown;
  step(arg: unknown, extras?: { loss?: number }): unknown;
  stateDict?(): unknown;
  loadStateDict?(state: never): unknown;
  readonly paramGroups?: ReadonlyArray<object>;
}

/**
 * Builds the optimizer of a case from typed-array parameters (already grouped as the case says).
 * Return null for cases the factory does not handle.
 */
export type TypedArrayFactory = (
  spec: CaseSpec,
  params: TypedParams | Array<{ params: TypedParams } & Record<string, unknown>>,
  execution: core.TypedArrayExecution,
) => TypedArrayOptimizerLike | null;

/** Constructs every class of the core's registry over typed arrays. */
export const coreFactory: TypedArrayFactory = (spec, params, execution) => {
  const algorithm = (core.scheduleFreeAlgorithms as Record<string, core.Algorithm<object>>)[spec.optimizer];
  if (!algorithm || spec.base) return null;
  const backend = core.typedArrayBackendFor(algorithm.name, execution);
  const Facade =
    algorithm.kind === 'closure' ? core.ScheduleFreeClosureOptimizer : core.ScheduleFreeOptimizer;
  return new Facade(algorithm, backend, params, spec.options) as TypedArrayOptimizerLike;
};

/** Groups a case's flat parameters as its `groups` field says. */
export function groupParams<P>(spec: CaseSpec, params: Record<string, P>) {
  if (!spec.groups) return params;
  return spec.groups.map((g) => ({
    params: Object.fromEntries(g.params.map((n) => [n, params[n]])),
    ...g.options,
  }));
}

function hostRecord(record: Readonly<Record<string, TypedArray>>): HostRecord {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Float64Array.from(v)]));
}

/** Wraps a typed-array optimizer as a {@link ReplaySubject}. */
export function typedArraySubject(
  optimizer: TypedArrayOptimizerLike,
  ctor: ArrayCtor,
  closure: boolean,
): ReplaySubject {
  return optimizerSubject<unknown>(optimizer, {
    closure,
    grads: (grads: HostGrads) => convertGrads(grads, (v) => ctor.from(v)),
    params: () => hostRecord(optimizer.params),
    evalParams: () => hostRecord(optimizer.evalParams()),
  });
}

/**
 * A conformance backend over the core typed-array classes (plus any extra factories, e.g. the
 * wrapper package's), in the given precision and execution mode.
 */
export function typedArrayReplayBackend(
  name: string,
  dtype: 'float32' | 'float64',
  execution: core.TypedArrayExecution,
  factories: readonly TypedArrayFactory[] = [coreFactory],
): ReplayBackend {
  const ctor: ArrayCtor = dtype === 'float32' ? Float32Array : Float64Array;
  const build = (spec: CaseSpec) => {
    const params = Object.fromEntries(
      Object.entries(flattenRecord(spec.params)).map(([k, v]) => [k, ctor.from(v)]),
    );
    for (const factory of factories) {
      const optimizer = factory(spec, groupParams(spec, params), execution);
      if (optimizer) return optimizer;
    }
    return null;
  };
  return {
    name,
    dtype,
    features: ['frozen-params', 'schedule-free-plus'],
    create(spec) {
      const optimizer = build(spec);
      if (!optimizer) throw new Error(`${spec.optimizer} is not available on ${name}`);
      return typedArraySubject(optimizer, ctor, isClosureClass(spec.optimizer));
    },
  };
}

/**
 * The backends named by the core: `core-f64` (fused JavaScript loop), `core-f32` (the default
 * float32 path: WebAssembly SIMD kernels), `core-js-f32` (the JavaScript loop on float32 data),
 * `trace` (IR interpreter, float64) and the eager ones.
 */
export function coreReplayBackends(factories?: readonly TypedArrayFactory[]): ReplayBackend[] {
  return [
    typedArrayReplayBackend('core-f64', 'float64', 'fused', factories),
    typedArrayReplayBackend('core-f32', 'float32', 'wasm', factories),
    typedArrayReplayBackend('core-js-f32', 'float32', 'fused', factories),
    typedArrayReplayBackend('trace', 'float64', 'trace', factories),
    typedArrayReplayBackend('core-eager-f64', 'float64', 'eager', factories),
    typedArrayReplayBackend('core-eager-f32', 'float32', 'eager', factories),
  ];
}
