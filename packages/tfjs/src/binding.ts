import { check, type Engine, immediate, type Mode, type Operation } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import type { ParamGroupSpec, VariableSelector } from './options.js';
import { matchVariables, type StateHeader, stateDictOf } from './saving.js';
import { variablesOf } from './variables.js';

/** Parameter groups as the engine takes them: variables by name, plus option overrides. */
export type EngineGroups<O> = Array<{ params: Record<string, tf.Tensor> } & Partial<O>>;

/** State restored by `setWeights` before the optimizer knows its variables (e.g. `tf.loadLayersModel`). */
export interface PendingState {
  readonly header: StateHeader;
  /** State tensors in header order, owned by the binding. */
  readonly tensors: readonly tf.Tensor[];
}

const selects = (s: VariableSelector, v: tf.Variable) =>
  typeof s === 'string' ? s === v.name : s instanceof RegExp ? s.test(v.name) : s === v;

/**
 * The engine's groups from the `paramGroups` option: each variable joins the first group that
 * selects it; the others form a last group with the top-level options. A group that selects
 * nothing is an error (most likely a misspelt name).
 */
export function groupsFor<O>(
  specs: ReadonlyArray<ParamGroupSpec<O>>,
  variables: readonly tf.Variable[],
  where: string,
): EngineGroups<O> {
  const members: tf.Variable[][] = specs.map(() => []);
  const rest: tf.Variable[] = [];
  for (const v of variables) {
    const gi = specs.findIndex((spec) => spec.params.some((s) => selects(s, v)));
    (gi < 0 ? rest : members[gi]).push(v);
  }
  members.forEach((m, gi) => {
    check(
      m.length > 0,
      'INVALID_PARAMS',
      () =>
        `${where}: paramGroups[${gi}] selects none of the variables (${variables.map((v) => v.name).join(', ')}). Check its names or patterns.`,
    );
  });
  const byName = (vs: tf.Variable[]) => Object.fromEntries(vs.map((v) => [v.name, v as tf.Tensor]));
  const groups: Array<Record<string, unknown>> = specs.map((spec, gi) => {
    const { params: _params, ...overrides } = spec as ParamGroupSpec<O> & Record<string, unknown>;
    return { ...overrides, params: byName(members[gi]) };
  });
  if (rest.length > 0) groups.push({ params: byName(rest) });
  return groups as EngineGroups<O>;
}

/** What a binding needs from its optimizer. */
export interface BindingHost<O extends object> {
  /** Class name, for messages. */
  readonly name: string;
  readonly groupSpecs: ReadonlyArray<ParamGroupSpec<O>>;
  /** A new engine over these groups. */
  createEngine(groups: EngineGroups<O>): Engine<tf.Tensor, O>;
  /** Called once saved state has been restored over variables (saved options win). */
  restored(header: StateHeader): void;
  /** Runs an operation synchronously, as the optimizer runs all of its synchronous calls. */
  now<R>(engine: Engine<tf.Tensor, O>, op: Operation<R>): R;
}

/**
 * Which variables an optimizer trains, and its engine over them. A tfjs optimizer is created
 * without its variables: it learns them at the first step (from the gradients, or `varList`), or
 * from `attach`; until then it keeps the mode asked for and any state loaded by `setWeights`, and
 * applies both when it binds. The variables stay in the order they were bound in (the saved order).
 */
export class Binding<O extends object> {
  /** The engine, once the variables are known. */
  engine: Engine<tf.Tensor, O> | null = null;
  /** The variables, in the order the optimizer first received them (the saved order). */
  variables: tf.Variable[] = [];
  /** State loaded before the variables are known. */
  pending: PendingState | null = null;
  /** The mode while the variables are unknown. */
  mode: Mode = 'eval';

  constructor(private readonly host: BindingHost<O>) {}

  /** Learns the variables: restores waiting state, or creates fresh state lazily at the first step. */
  bind(given: readonly tf.Variable[]): Engine<tf.Tensor, O> {
    const where = this.host.name;
    const variables = variablesOf(given, where);
    check(
      new Set(variables).size === variables.length,
      'INVALID_PARAMS',
      () => `${where}: a variable appears twice in the list.`,
    );
    let engine: Engine<tf.Tensor, O>;
    let ordered = variables;
    if (this.pending) {
      ({ engine, ordered } = this.restore(this.pending, variables));
      tf.dispose([...this.pending.tensors]);
      this.pending = null;
    } else {
      engine = this.host.createEngine(groupsFor(this.host.groupSpecs, variables, where));
    }
    if (this.mode !== engine.mode)
      this.host.now(engine, this.mode === 'train' ? engine.train() : engine.eval());
    this.engine = engine;
    this.variables = ordered;
    return engine;
  }

  /**
   * Takes state saved by `getWeights`: kept until the variables are known, or restored over the
   * bound variables at once (which needs every earlier call to have finished). State saved before
   * any step makes the optimizer fresh again, in the saved mode. `tensors` are copied.
   */
  load(header: StateHeader, tensors: readonly tf.Tensor[]): void {
    const current = this.engine;
    const copies = () => tensors.map((t) => tf.keep(tf.clone(t)));
    if (!current) {
      this.release();
      if (header.params.length > 0) this.pending = { header, tensors: copies() };
      this.mode = header.mode;
      return;
    }
    this.host.now(current, {
      method: 'setWeights',
      prepare: () => () =>
        immediate(() => {
          if (header.params.length === 0) {
            this.engine = null;
            this.variables = [];
            this.mode = header.mode;
          } else {
            const next = this.restore({ header, tensors }, this.variables);
            this.engine = next.engine;
            this.variables = next.ordered;
          }
          void current.dispose();
        }),
    });
  }

  /** Frees the state waiting for variables. */
  release(): void {
    if (this.pending) tf.dispose([...this.pending.tensors]);
    this.pending = null;
  }

  /** A new engine over `variables` with saved state; checks everything first and changes nothing on error. */
  private restore(
    { header, tensors }: PendingState,
    variables: readonly tf.Variable[],
  ): { engine: Engine<tf.Tensor, O>; ordered: tf.Variable[] } {
    const order = matchVariables(header, variables, `${this.host.name}.setWeights`);
    const ordered = header.params.map((_, i) => variables[order[i]]);
    const groups = header.groups.map((g) => ({ ...g.options, params: {} as Record<string, tf.Tensor> }));
    header.params.forEach((p, i) => {
      groups[p.group].params[ordered[i].name] = ordered[i];
    });
    const engine = this.host.createEngine(groups as EngineGroups<O>);
    try {
      this.host.now(engine, engine.loadStateDict(stateDictOf(header, tensors, ordered)));
    } catch (error) {
      void engine.dispose();
      throw error;
    }
    this.host.restored(header);
    return { engine, ordered };
  }
}
