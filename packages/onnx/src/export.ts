import {
  type Algorithm,
  type Counters,
  type ElementwiseProgram,
  graphOf,
  type KernelPlan,
  type ProgramRun,
  planFor,
  planKernel,
  type ScalarUse,
  scalarValues,
} from '@schedulefree/core';
import { lowerPlan } from './lower.js';
import { modelOf, OPSET_VERSION } from './model.js';
import { type Dim, encodeModel } from './onnx-model.js';

/** One input or output of an exported model. */
export interface ExportedPort {
  /** Name in the ONNX graph. */
  readonly name: string;
  /** `tensor`: a flat float32 buffer of the group's length; `scalar`: a 0-d float32 value per run. */
  readonly kind: 'tensor' | 'scalar';
  /**
   * The state slot (`param`, `grad`, `z`, `v`, …) or the scalar input it carries (its name); an
   * output replaces its slot.
   */
  readonly slot: string;
  /** Scalars: how the value derives from the program's scalar (`value`, `reciprocal`, `oneMinus`). */
  readonly use?: ScalarUse;
  readonly shape: readonly Dim[];
  readonly description: string;
}

/** A program as a standalone ONNX model. */
export interface ExportedModel {
  /** ONNX `ModelProto` bytes: save as a `.onnx` file, or pass to any runtime's `InferenceSession`. */
  readonly bytes: Uint8Array;
  readonly opsetVersion: number;
  /** The core program's structural key (same key and pattern, same graph). */
  readonly programKey: string;
  /**
   * The lerp branches the model computes, one character per lerp of the program: `s` for
   * `a + w·(b − a)` (|w| < 0.5), `l` for `b − (b − a)·(1 − w)`. A model serves every run whose
   * weights keep this pattern (the averaging weight c passes 0.5 once, in the first steps).
   */
  readonly pattern: string;
  readonly inputs: readonly ExportedPort[];
  readonly outputs: readonly ExportedPort[];
}

/** A program with the scalar values of one run. */
export interface ExportedRun extends ExportedModel {
  /** The scalar inputs of that run by input name, as the optimizer computes them on the host (float64). */
  readonly scalars: Readonly<Record<string, number>>;
}

const SLOT_TEXT: Record<string, string> = {
  param: 'the parameters, flattened (y in train mode, x in eval mode)',
  grad: 'the gradient at the parameters, flattened like them',
  z: 'the base-optimizer iterate z',
  v: 'the second-moment estimate (exp_avg_sq)',
  m: 'the inner first moment (exp_avg)',
  x: 'the averaged iterate x (evaluation point)',
  y: 'the interpolated iterate y (where gradients are taken)',
};

const SCALAR_TEXT: Record<string, string> = {
  lr: 'scheduled learning rate γ_t (warmup and any lr factor included)',
  c: 'weight of the new z in the average x (weight / weightSum)',
  yCoef: 'γ_t·(β·(1 − c) − 1): coefficient of the update direction in y',
  wd: 'weight decay λ',
  lrWd: 'γ_t·λ: weight decay applied to z',
  beta2: 'second-moment decay β2',
  oneMinusBeta2: '1 − β2: weight of g² in v',
  bc2: 'bias correction 1 − β2^t',
  eps: 'ε added to the denominator',
  mu: 'inner momentum μ',
  oneMinusMu: '1 − μ: weight of g in m',
  bc1: 'bias correction 1 − μ^t',
  toX: '1 − 1/β: lerp weight from y to x',
  yWeight: '1 − β: lerp weight from x to y',
  w: 'lerp weight towards z (1 − 1/β to x, 1 − β to y)',
};

/** What a scalar input carries, in words. */
function describeScalar(use: ScalarUse): string {
  const text = SCALAR_TEXT[use.name] ?? `per-step scalar "${use.name}"`;
  if (use.kind === 'value') return text;
  return use.kind === 'reciprocal'
    ? `1 / ${use.name}, where ${use.name} is ${text}`
    : `1 − ${use.name}, where ${use.name} is ${text}`;
}

/** Lowers a plan to a standalone model whose tensors are 1-D of length `length`. */
function exportPlan(plan: KernelPlan, length: Dim): ExportedModel {
  const lowered = lowerPlan(plan, { length });
  const describeSlot = (slot: string) => SLOT_TEXT[slot] ?? `state buffer "${slot}"`;
  const key = plan.graph.key;
  const bytes = encodeModel(
    modelOf(
      lowered.graph,
      `Schedule-Free program ${key}, lerp pattern "${plan.pattern}" (@schedulefree/onnx)`,
      {
        'schedulefree.program': key,
        'schedulefree.pattern': plan.pattern,
      },
    ),
  );
  return {
    bytes,
    opsetVersion: OPSET_VERSION,
    programKey: key,
    pattern: plan.pattern,
    inputs: lowered.inputs.map((port) =>
      port.kind === 'scalar'
        ? {
            name: port.name,
            kind: 'scalar',
            slot: port.name,
            use: plan.uses[port.use!],
            shape: [],
            description: describeScalar(plan.uses[port.use!]),
          }
        : {
            name: port.name,
            kind: 'tensor',
            slot: port.slot,
            shape: [length],
            description: describeSlot(port.slot),
          },
    ),
    outputs: lowered.outputs.map((port) => ({
      name: port.name,
      kind: 'tensor',
      slot: port.slot,
      shape: [length],
      description: `new value of ${describeSlot(port.slot)}`,
    })),
  };
}

/**
 * Lowers a program to a standalone ONNX model whose tensors are 1-D of symbolic length `n` (or the
 * given length) and whose scalars are 0-d inputs: the graph the optimizers run. The lerp branches
 * are those of `scalars` (decided as for a run), or the `a + w·(b − a)` branch of each lerp when no
 * scalars are given.
 */
export function exportProgram(
  program: ElementwiseProgram,
  length: Dim = 'n',
  scalars?: Readonly<Record<string, number>>,
): ExportedModel {
  const graph = graphOf(program);
  const lerps = graph.nodes.filter((n) => n.op === 'lerp').length;
  return exportPlan(scalars ? planFor(graph, scalars) : planKernel(graph, 's'.repeat(lerps)), length);
}

/** A run as a standalone model with the values of its scalar inputs. */
function exportRun(run: ProgramRun, length: Dim): ExportedRun {
  const plan = planFor(graphOf(run.program), run.scalars);
  const model = exportPlan(plan, length);
  const values = scalarValues(plan, run.scalars);
  const scalars: Record<string, number> = {};
  for (const input of model.inputs) if (input.use) scalars[input.name] = values[plan.uses.indexOf(input.use)];
  return { ...model, scalars };
}

/** The step of one parameter group as standalone models, with the values of its next run. */
export interface ExportedStep extends ExportedRun {
  /** Algorithm (class) name. */
  readonly algorithm: string;
  /** The group's counters after that step (feed them back to plan the one after). */
  readonly nextCounters: Readonly<Record<string, number>>;
  /** Moves the parameters to x (what `eval()` runs); absent for optimizers without modes. */
  readonly toEval?: ExportedRun;
  /** Moves the parameters to y (what `train()` runs); absent for optimizers without modes. */
  readonly toTrain?: ExportedRun;
}

/**
 * Exports the next step of an algorithm for a group's options and counters: the step model with the
 * scalar inputs of that step, and the two mode-switch models.
 */
export function exportStep<O extends object>(
  algorithm: Algorithm<O>,
  options: O,
  counters: Counters,
  length: Dim = 'n',
): ExportedStep {
  const plan = algorithm.planStep(options, counters);
  const modes = algorithm.kind !== 'plain';
  return {
    ...exportRun(plan, length),
    algorithm: algorithm.name,
    nextCounters: { ...plan.counters },
    ...(modes
      ? {
          toEval: exportRun(algorithm.moveTo(options, 'x'), length),
          toTrain: exportRun(algorithm.moveTo(options, 'y'), length),
        }
      : {}),
  };
}
