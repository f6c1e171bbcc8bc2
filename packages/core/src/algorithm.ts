import type { ElementwiseProgram, ReductionProgram } from './program.js';

/**
 * How the stored parameter relates to the three sequences:
 * - `fused`: holds y in train mode and x in eval mode; state keeps z (and moments).
 * - `reference`: keeps x, y and z explicitly; mode switches copy.
 * - `closure`: holds x between steps; `step(closure)` moves to y only while computing gradients.
 * - `plain`: not Schedule-Free (a base optimizer such as SGD or Adam): the parameter is the iterate.
 */
export type AlgorithmKind = 'fused' | 'reference' | 'closure' | 'plain';

/** A per-parameter state buffer and how it starts: a copy of the parameter, zeros, or a constant. */
export interface SlotSpec {
  readonly name: string;
  readonly init: 'clone' | 'zeros' | { readonly fill: number };
}

/** Per-group scalar counters (schedule block and any algorithm extras); plain JSON numbers. */
export type Counters = Readonly<Record<string, number>>;

/** A program with the scalar values of one run. */
export interface ProgramRun {
  readonly program: ElementwiseProgram;
  readonly scalars: Readonly<Record<string, number>>;
}

/** Everything one step of one group needs, computed on the host before any tensor is touched. */
export interface StepPlan extends ProgramRun {
  /** The group's counters after this step. */
  readonly counters: Counters;
}

/** What planning a step may need beyond options and counters. */
export interface StepContext {
  /** The loss at y, for algorithms that take one (`needsLoss`). */
  readonly loss?: number;
  /** The sums of the algorithm's reduction over every parameter with a gradient, by term. */
  readonly sums?: Readonly<Record<string, number>>;
}

/** A reduction with the scalar values of one run. */
export interface ReductionRun {
  readonly program: ReductionProgram;
  readonly scalars: Readonly<Record<string, number>>;
}

/**
 * One optimizer algorithm: its options, validation, state layout, scalar schedule and programs.
 * Pure data and functions; the {@link OptimizerEngine} owns buffers, groups and modes.
 */
export interface Algorithm<O extends object> {
  /** The class name, as in the reference package (e.g. `"AdamWScheduleFree"`). */
  readonly name: string;
  readonly kind: AlgorithmKind;
  readonly defaults: Readonly<O>;
  /** Throws `INVALID_OPTION` with a message naming the option, prefixed by `where`. */
  validate(options: Readonly<Record<string, unknown>>, where: string): void;
  /** State buffers kept per parameter besides the parameter itself. */
  slots(options: O): readonly SlotSpec[];
  initialCounters(): Counters;
  planStep(options: O, counters: Counters): StepPlan;
  /**
   * Program that moves the stored parameters to the given sequence: `'x'` for eval mode, `'y'` for
   * train mode (closure algorithms use `'y'` to extrapolate before computing gradients).
   */
  moveTo(options: O, target: 'x' | 'y'): ProgramRun;
  /** Summary statistics of a group for logging (scheduled lr etc.). */
  describe?(options: O, counters: Counters): Record<string, number>;
  /**
   * Counters kept per parameter rather than per group, as PyTorch's base optimizers keep `step` in
   * each parameter's state: a parameter without a gradient at a step does not advance them. The
   * engine plans a group once per distinct set of values.
   */
  readonly memberCounters?: readonly string[];
  /** Whether every step needs the loss at y (ScheduleFree+'s Polyak step size). */
  readonly needsLoss?: boolean;
  /**
   * Two-phase steps: the reduction to run over every parameter with a gradient before planning the
   * step; its sums reach {@link planSteps} through the context.
   */
  reduction?(options: readonly O[], counters: readonly Counters[]): ReductionRun;
  /**
   * Plans every group's step at once, for algorithms whose groups share per-step values; when
   * present the engine uses it instead of {@link planStep} for steps.
   */
  planSteps?(options: readonly O[], counters: readonly Counters[], context: StepContext): StepPlan[];
}
