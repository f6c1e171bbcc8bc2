import {
  type Algorithm,
  type Backend,
  check,
  defineProgram,
  type ElementwiseProgram,
  type EngineOptions,
  OptimizerBase,
  type ParamsInput,
  ScheduleFreeError,
  validateOptions,
} from '@schedulefree/core';
import type { BaseAlgorithm, Structure } from './types.js';

const programs = new Map<string, ElementwiseProgram>();

/** The standalone program of one base step: the parameter is the iterate. Cached per structure. */
export function baseProgram<O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  structure: Structure,
): ElementwiseProgram {
  const key = `${base.name}:${structure}`;
  let program = programs.get(key);
  if (!program) {
    const { slots, scalars } = base.signature(structure);
    program = defineProgram({
      key,
      inputs: ['param', 'grad', ...slots],
      scalars,
      outputs: ['param', ...slots],
      body: (ops, t, s) => base.update(ops, structure, t, s),
    });
    programs.set(key, program);
  }
  return program;
}

/** Validates a base optimizer's options: each against its schema, then constraints between them. */
export function validateBaseOptions<O extends { lr: number }>(
  base: BaseAlgorithm<O>,
  options: Readonly<Record<string, unknown>>,
  where: string,
): void {
  validateOptions(where, base.schema, options);
  const problem = base.crossCheck?.(options as unknown as O);
  if (problem) throw new ScheduleFreeError('INVALID_OPTION', `${where}: ${problem}`);
}

/** A base optimizer as a core {@link Algorithm} of kind `plain`, so the core engine can run it. */
export function plainAlgorithm<O extends { lr: number }>(base: BaseAlgorithm<O>): Algorithm<O> {
  return {
    name: base.name,
    kind: 'plain',
    defaults: base.defaults,
    validate: (options, where) => validateBaseOptions(base, options, where),
    slots: (o) => base.slots(o),
    initialCounters: () => base.initialCounters(),
    // PyTorch keeps a base optimizer's step count in each parameter's state.
    memberCounters: Object.keys(base.initialCounters()),
    planStep(o, counters) {
      const plan = base.plan(o, counters);
      return { program: baseProgram(base, plan.structure), scalars: plan.scalars, counters: plan.counters };
    },
    moveTo() {
      throw new ScheduleFreeError(
        'UNSUPPORTED',
        `${base.name} is not Schedule-Free: it has no x or y to move to.`,
      );
    },
  };
}

/**
 * A plain (not Schedule-Free) optimizer over any backend: `step(grads)` updates the parameters.
 * The base optimizers of this package, usable on their own or handed to a Schedule-Free wrapper.
 */
export class BaseOptimizer<T, O extends { lr: number }> extends OptimizerBase<T, O> {
  constructor(
    /** The base algorithm this optimizer runs (what a wrapper fuses with). */
    readonly base: BaseAlgorithm<O>,
    backend: Backend<T>,
    params: ParamsInput<T, O>,
    options: Partial<O> & EngineOptions = {},
  ) {
    super(plainAlgorithm(base), backend, params, options);
  }

  /**
   * One step with gradients keyed by parameter name. Returns false if it was skipped for a
   * non-finite gradient (`nonFiniteGrads: 'skip'`).
   */
  step(grads: Readonly<Record<string, T>>): boolean {
    return this.engine.now(this.engine.step(grads));
  }

  /**
   * Gives this optimizer's parameters and per-group options to a wrapper, which then owns them.
   * Any later call on this object throws, saying which wrapper to use instead.
   * @internal
   */
  handOver(to: string): {
    base: BaseAlgorithm<O>;
    backend: Backend<T>;
    groups: Array<{ params: Record<string, T> } & O>;
  } {
    const groups = this.engine.handOver(`this optimizer was wrapped by ${to}; call the wrapper instead.`);
    check(groups.length > 0, 'INVALID_PARAMS', () => `${this.base.name}: nothing to wrap.`);
    return {
      base: this.base,
      backend: this.engine.backend,
      groups: groups.map((g) => ({ ...g.options, params: g.params })),
    };
  }
}
