import {
  type Algorithm,
  AsyncOptimizerBase,
  AsyncScheduleFreeClosureOptimizer,
  AsyncScheduleFreeOptimizer,
  check,
  type StepExtras,
} from '@schedulefree/core';
import { type BaseAlgorithm, checkBaseAlgorithm, plainAlgorithm } from '@schedulefree/wrapper';
import type { ExportedStep } from './export.js';
import type { OnnxOptimizerOptions, OnnxParams, StateLocation } from './options.js';
import type { OnnxClosure, OnnxParts, ParamLayout } from './parts.js';
import type { OrtTensor, TensorInput } from './runtime.js';
import { OnnxSetup, type OrtModuleInput, setUp } from './setup.js';

export type { OnnxClosure, ParamLayout } from './parts.js';
export type { OrtModuleInput } from './setup.js';

/*
 * The façades: the core's asynchronous optimizers (call order, captured gradients and options,
 * closures, state dicts, disposal) plus what ONNX Runtime users get besides — per-parameter tensors
 * with their dimensions, the flat buffers, the exported step. Create them with the static `create`
 * of a class (or `createOptimizer`): it reads device parameters and creates the first sessions.
 */

/** Docs of the members every ONNX optimizer class shares (delegating to {@link OnnxParts}). */
interface OnnxAccess {
  /** Where parameters and state live between steps. */
  readonly stateLocation: StateLocation;
  /**
   * The current parameters (y in train mode, x in eval mode) by name, with the dimensions they were
   * given. They belong to the optimizer and are valid until its next `step`, `train`, `eval`,
   * `loadStateDict` or `dispose`: read them (`getData()`) or feed them to a model before that. On the
   * CPU they are views of the group's flat buffer; on the GPU, slices of it (a single-parameter
   * group's is the buffer itself).
   */
  params(): Promise<Record<string, OrtTensor>>;
  /**
   * A group's parameters as the one flat tensor the step graph reads (parameters concatenated in
   * order), owned by the optimizer; valid until the next change, like {@link params}.
   */
  flatParams(group?: number): OrtTensor;
  /**
   * The parameters at x (the evaluation point) as new tensors owned by the caller (dispose GPU ones
   * when done), without changing anything in the optimizer.
   */
  evalParams(): Promise<Record<string, OrtTensor>>;
  /**
   * A group's next step as a standalone ONNX model (ModelProto bytes with a description of every
   * input and output) plus the scalar inputs of that step, so the same update runs in any ONNX
   * runtime (Python, C++, mobile). Tensors are 1-D of symbolic length `n`; `params` says where each
   * parameter sits in the flat buffers. Nothing changes in the optimizer.
   */
  exportStep(group?: number): ExportedStep & { params: readonly ParamLayout[] };
}

/**
 * Optimizers whose parameters hold y while training: `await train()` before stepping,
 * `await eval()` before evaluating or saving, `await step(grads)` with gradients (float32
 * `ort.Tensor`s or `Float32Array`s, by name) taken at the current parameters. Each step is one
 * `session.run` per parameter group.
 */
export class OnnxScheduleFreeOptimizer<O extends object>
  extends AsyncScheduleFreeOptimizer<TensorInput, O>
  implements OnnxAccess
{
  protected readonly onnx: OnnxParts<O>;

  protected constructor(setup: OnnxSetup<O>) {
    super(...OnnxSetup.engineArgs(setup));
    this.onnx = setup.bind(this.engine);
  }

  /**
   * Runs `fn` with the parameters at x, which it receives (valid while it runs), and puts them back
   * exactly afterwards, also when it throws or rejects; resolves to what it returns. In eval mode it
   * simply calls `fn`. Calls on this optimizer from inside `fn` are refused; calls made meanwhile wait.
   */
  override withEvalParams<R>(fn: (params: Record<string, OrtTensor>) => R | PromiseLike<R>): Promise<R> {
    return this.onnx.withEvalParams(fn);
  }

  get stateLocation(): StateLocation {
    return this.onnx.context.location;
  }
  params(): Promise<Record<string, OrtTensor>> {
    return this.onnx.params();
  }
  flatParams(group = 0): OrtTensor {
    return this.onnx.flatParams(group);
  }
  evalParams(): Promise<Record<string, OrtTensor>> {
    return this.onnx.evalParams();
  }
  exportStep(group = 0): ExportedStep & { params: readonly ParamLayout[] } {
    return this.onnx.exportStep(group);
  }
  /** Releases every session and buffer the optimizer created, once the calls made before have taken effect. */
  override async dispose(): Promise<void> {
    await super.dispose();
    await this.onnx.dispose();
  }
}

/**
 * Closure-driven optimizers: parameters hold x between steps; `step(closure)` moves them to y, calls
 * the closure (which gets the parameters at y) for gradients, updates, and leaves them at x.
 */
export class OnnxScheduleFreeClosureOptimizer<O extends object>
  extends AsyncScheduleFreeClosureOptimizer<TensorInput, O>
  implements OnnxAccess
{
  protected readonly onnx: OnnxParts<O>;

  protected constructor(setup: OnnxSetup<O>) {
    super(...OnnxSetup.engineArgs(setup));
    this.onnx = setup.bind(this.engine);
  }

  /**
   * One step. The closure gets the parameters at y (valid while it runs) and returns the gradients
   * (or `{ loss, grads }`), possibly as a promise; resolves to the loss, if it gave one. Calls made
   * while it runs wait for it; calls made from inside it are refused. If it fails, returns bad
   * gradients or sets invalid options, the parameters are restored and nothing else changes.
   */
  override step(closure: OnnxClosure): Promise<number | undefined> {
    return this.onnx.closureStep(closure);
  }

  get stateLocation(): StateLocation {
    return this.onnx.context.location;
  }
  params(): Promise<Record<string, OrtTensor>> {
    return this.onnx.params();
  }
  flatParams(group = 0): OrtTensor {
    return this.onnx.flatParams(group);
  }
  evalParams(): Promise<Record<string, OrtTensor>> {
    return this.onnx.evalParams();
  }
  exportStep(group = 0): ExportedStep & { params: readonly ParamLayout[] } {
    return this.onnx.exportStep(group);
  }
  /** Releases every session and buffer the optimizer created, once the calls made before have taken effect. */
  override async dispose(): Promise<void> {
    await super.dispose();
    await this.onnx.dispose();
  }
}

/**
 * A base optimizer on its own (not Schedule-Free): `step(grads)` updates the parameters, with no
 * train/eval modes. The same graph machinery, useful as a baseline for the Schedule-Free classes.
 */
export class OnnxBaseOptimizer<O extends { lr: number }>
  extends AsyncOptimizerBase<TensorInput, O>
  implements OnnxAccess
{
  protected readonly onnx: OnnxParts<O>;

  protected constructor(setup: OnnxSetup<O>) {
    super(...OnnxSetup.engineArgs(setup));
    this.onnx = setup.bind(this.engine);
  }

  /** Creates the optimizer for a base algorithm (SGD, Adam, AdamW, RMSprop, Adagrad, or your own). */
  static async create<O extends { lr: number }>(
    ort: OrtModuleInput,
    base: BaseAlgorithm<O>,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
  ): Promise<OnnxBaseOptimizer<O>> {
    checkBaseAlgorithm('OnnxBaseOptimizer', base);
    const setup = await setUp(plainAlgorithm(base), ort, params, options);
    return setup.ready(new OnnxBaseOptimizer(setup));
  }

  /**
   * One step; resolves to false if it was skipped for a non-finite gradient (`nonFiniteGrads:
   * 'skip'`). A parameter without a gradient (`null`, or omitted with `omittedGrads: 'freeze'`)
   * keeps its values and state.
   */
  step(grads: Readonly<Record<string, TensorInput | null>>, extras?: StepExtras): Promise<boolean> {
    return this.engine.later(this.engine.step(grads as Readonly<Record<string, TensorInput>>, extras));
  }

  get stateLocation(): StateLocation {
    return this.onnx.context.location;
  }
  params(): Promise<Record<string, OrtTensor>> {
    return this.onnx.params();
  }
  flatParams(group = 0): OrtTensor {
    return this.onnx.flatParams(group);
  }
  evalParams(): Promise<Record<string, OrtTensor>> {
    return this.onnx.evalParams();
  }
  exportStep(group = 0): ExportedStep & { params: readonly ParamLayout[] } {
    return this.onnx.exportStep(group);
  }
  /** Releases every session and buffer the optimizer created, once the calls made before have taken effect. */
  override async dispose(): Promise<void> {
    await super.dispose();
    await this.onnx.dispose();
  }
}

class AnyOptimizer<O extends object> extends OnnxScheduleFreeOptimizer<O> {
  static async make<O extends object>(setup: OnnxSetup<O>): Promise<OnnxScheduleFreeOptimizer<O>> {
    return setup.ready(new AnyOptimizer(setup));
  }
}

class AnyClosureOptimizer<O extends object> extends OnnxScheduleFreeClosureOptimizer<O> {
  static async make<O extends object>(setup: OnnxSetup<O>): Promise<OnnxScheduleFreeClosureOptimizer<O>> {
    return setup.ready(new AnyClosureOptimizer(setup));
  }
}

/**
 * An ONNX optimizer for any train/eval {@link Algorithm} (`fused` or `reference` kind), e.g. one from
 * `@schedulefree/wrapper` or your own: its programs are traced, lowered and run like the built-in
 * classes'.
 */
export async function createOptimizer<O extends object>(
  ort: OrtModuleInput,
  algorithm: Algorithm<O>,
  params: OnnxParams<O>,
  options?: OnnxOptimizerOptions<O>,
): Promise<OnnxScheduleFreeOptimizer<O>> {
  check(
    algorithm?.kind !== 'closure',
    'INVALID_OPTION',
    () => `createOptimizer: ${algorithm.name} is a closure algorithm; use createClosureOptimizer.`,
  );
  return AnyOptimizer.make(await setUp(algorithm, ort, params, options));
}

/** An ONNX optimizer driven by `step(closure)` for any closure-kind {@link Algorithm}. */
export async function createClosureOptimizer<O extends object>(
  ort: OrtModuleInput,
  algorithm: Algorithm<O>,
  params: OnnxParams<O>,
  options?: OnnxOptimizerOptions<O>,
): Promise<OnnxScheduleFreeClosureOptimizer<O>> {
  check(
    algorithm?.kind === 'closure',
    'INVALID_OPTION',
    () => `createClosureOptimizer: ${algorithm?.name} is not a closure algorithm; use createOptimizer.`,
  );
  return AnyClosureOptimizer.make(await setUp(algorithm, ort, params, options));
}
