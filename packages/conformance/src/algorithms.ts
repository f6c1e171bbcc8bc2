import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import type { ReplayBackend, ReplayFeature, ReplaySubject } from './backend.js';
import { type CaseSpec, flattenRecord } from './cases.js';

/**
 * Which core {@link Algorithm} a case runs, from the registries rather than from lists of classes:
 * the Schedule-Free classes of `@schedulefree/core`, and, when `@schedulefree/wrapper` is installed,
 * the wrappers around its base optimizers. An adapter that can run any algorithm (every adapter's
 * optimizer classes are thin façades over one) replays every case this resolves.
 */

/** The algorithm of a case and the options of its groups (for wrapper cases, the base's). */
export interface CaseAlgorithm {
  readonly algorithm: Algorithm<object>;
  readonly options: Record<string, unknown>;
}

/** Resolves a case to its algorithm, or to the reason it cannot run. */
export type CaseAlgorithmResolver = (spec: CaseSpec) => CaseAlgorithm | string;

interface WrapperModule {
  baseAlgorithms: Record<string, unknown>;
  ScheduleFreeWrapperAlgorithm(base: unknown, options: Record<string, unknown>): Algorithm<object>;
  ScheduleFreeWrapperReferenceAlgorithm(base: unknown, options: Record<string, unknown>): Algorithm<object>;
}

let wrapperModule: Promise<WrapperModule | null> | undefined;

function importWrapper(): Promise<WrapperModule | null> {
  wrapperModule ??= import(/* @vite-ignore */ '@schedulefree/wrapper').then(
    (m) => m as unknown as WrapperModule,
    () => null,
  );
  return wrapperModule;
}

/** The resolver over the registries available here (the wrapper package is optional). */
export async function caseAlgorithms(): Promise<CaseAlgorithmResolver> {
  const wrapper = await importWrapper();
  return (spec) => {
    if (spec.base) {
      if (!wrapper) return `${spec.optimizer} needs @schedulefree/wrapper, which is not installed`;
      const base = wrapper.baseAlgorithms[spec.base.type];
      if (!base) return `unknown base optimizer ${JSON.stringify(spec.base.type)}`;
      const make =
        spec.optimizer === 'ScheduleFreeWrapper'
          ? wrapper.ScheduleFreeWrapperAlgorithm
          : spec.optimizer === 'ScheduleFreeWrapperReference'
            ? wrapper.ScheduleFreeWrapperReferenceAlgorithm
            : null;
      if (!make) return `${spec.optimizer} is not a wrapper class`;
      // The case's options are the wrapper's; the base's options are every group's options.
      return { algorithm: make(base, spec.options), options: spec.base.options };
    }
    const algorithm = (scheduleFreeAlgorithms as Record<string, Algorithm<object>>)[spec.optimizer];
    if (!algorithm) return `${spec.optimizer} is not a class of @schedulefree/core`;
    return { algorithm, options: spec.options };
  };
}

/** Parameters of a case as host arrays, grouped as the case says. */
export type CaseParams =
  | Record<string, Float64Array>
  | Array<{ params: Record<string, Float64Array> } & Record<string, unknown>>;

/** What an adapter is given to build the optimizer of one case. */
export interface CaseRun {
  readonly spec: CaseSpec;
  readonly algorithm: Algorithm<object>;
  /** Initial parameters (float64; convert to your tensors and precision). */
  readonly params: CaseParams;
  /** Options of every group (group overrides are inside `params`). */
  readonly options: Record<string, unknown>;
}

/**
 * A conformance backend for an adapter that can run any core {@link Algorithm}: cases are resolved
 * through {@link caseAlgorithms}, parameters grouped as the case says, and `create` turns one case
 * into a {@link ReplaySubject} (converting host arrays to the adapter's tensors and back).
 */
export async function algorithmReplayBackend(options: {
  readonly name: string;
  readonly dtype: 'float32' | 'float64';
  /** What the adapter supports beyond the basics (frozen parameters, ScheduleFree+). */
  readonly features?: readonly ReplayFeature[];
  /** Why a resolved case cannot run here (beyond what the registries say), or null. */
  readonly supports?: (run: Omit<CaseRun, 'params'>) => string | null;
  readonly create: (run: CaseRun) => ReplaySubject | Promise<ReplaySubject>;
}): Promise<ReplayBackend> {
  const resolve = await caseAlgorithms();
  const resolved = (spec: CaseSpec) => {
    const found = resolve(spec);
    if (typeof found === 'string') return found;
    return options.supports?.({ spec, ...found }) ?? found;
  };
  return {
    name: options.name,
    dtype: options.dtype,
    features: options.features ?? [],
    supports(spec) {
      const found = resolved(spec);
      return typeof found === 'string' ? found : null;
    },
    create(spec) {
      const found = resolved(spec);
      if (typeof found === 'string') throw new Error(found);
      const host = Object.fromEntries(
        Object.entries(flattenRecord(spec.params)).map(([k, v]) => [k, Float64Array.from(v)]),
      );
      const params: CaseParams = spec.groups
        ? spec.groups.map((g) => ({
            params: Object.fromEntries(g.params.map((n) => [n, host[n]])),
            ...g.options,
          }))
        : host;
      return options.create({ spec, ...found, params });
    },
  };
}
