import { type Algorithm, type ClosureResult, check } from '@schedulefree/core';
import { OnnxOptimizerEngine, type OnnxOptimizerOptions, type OnnxParams } from './engine.js';
import type { OrtModule, OrtTensor, TensorInput } from './runtime.js';

/** The `ort` argument: the module namespace (`import * as ort from 'onnxruntime-web'`) or its default export. */
export type OrtModuleInput = OrtModule | { readonly default: OrtModule };

/**
 * Optimizers whose parameters hold y while training: `await train()` before stepping,
 * `await eval()` before evaluating or saving, `await step(grads)` with gradients taken at the
 * current parameters. Each step is one `session.run` per parameter group.
 */
export class OnnxScheduleFreeOptimizer<O extends object> extends OnnxOptimizerEngine<O> {
  /** Switch to train mode: parameters move to y. A no-op when already training. */
  train(): Promise<this> {
    return this.serial('train', async () => {
      if (this.currentMode !== 'train') {
        await this.moveAll('y');
        this.currentMode = 'train';
      }
      return this;
    });
  }

  /** Switch to eval mode: parameters move to x. A no-op when already in eval mode. */
  eval(): Promise<this> {
    return this.serial('eval', async () => {
      if (this.currentMode !== 'eval') {
        await this.moveAll('x');
        this.currentMode = 'eval';
      }
      return this;
    });
  }

  /**
   * One optimizer step with gradients (taken at the current parameters, i.e. at y) keyed by
   * parameter name, as float32 `ort.Tensor`s or `Float32Array`s of the parameters' sizes. Resolves
   * to false if the step was skipped for a non-finite gradient (`nonFiniteGrads: 'skip'`). On any
   * error nothing has changed.
   */
  step(grads: Readonly<Record<string, TensorInput>>): Promise<boolean> {
    return this.serial('step', async () => {
      check(
        this.currentMode === 'train',
        'WRONG_MODE',
        () =>
          `${this.algorithm.name}.step() was called in eval mode. Call await optimizer.train() before training steps, and await optimizer.eval() before evaluating or saving.`,
      );
      this.validateGroups();
      if (!this.checkGrads(grads, 'step')) return false;
      return this.applyStep(grads, 'step');
    });
  }
}

/** What a closure passed to {@link OnnxScheduleFreeClosureOptimizer.step} gets and returns. */
export type OnnxClosure = (
  params: Record<string, OrtTensor>,
) => ClosureResult<TensorInput> | Promise<ClosureResult<TensorInput>>;

/**
 * Closure-driven optimizers: parameters hold x between steps; `step(closure)` moves them to y, calls
 * the closure (which gets the parameters at y) for gradients, updates, and leaves them at x.
 */
export class OnnxScheduleFreeClosureOptimizer<O extends object> extends OnnxOptimizerEngine<O> {
  /**
   * One step. The closure runs while the parameters hold y and returns the gradients (or
   * `{ loss, grads }`), possibly as a promise. Resolves to the loss, if the closure gave one. If the
   * closure throws or returns bad gradients, the parameters are restored and nothing else changes.
   */
  step(closure: OnnxClosure): Promise<number | undefined> {
    return this.serial('step', async () => {
      check(
        typeof closure === 'function',
        'MISSING_GRAD',
        () => `${this.algorithm.name}.step(closure) needs a function returning the gradients.`,
      );
      this.validateGroups();
      const previous = await this.moveAll('y', true);
      let loss: number | undefined;
      let grads: Readonly<Record<string, TensorInput>>;
      let finite: boolean;
      this.callbackDepth++;
      try {
        ({ loss, grads } = unpackClosureResult(await closure(await this.params())));
        finite = this.checkGrads(grads, 'step');
      } catch (error) {
        this.restoreParams(previous);
        throw error;
      } finally {
        this.callbackDepth--;
      }
      let stepped = false;
      try {
        stepped = finite && (await this.applyStep(grads, 'step'));
      } catch (error) {
        this.restoreParams(previous);
        throw error;
      }
      if (stepped) this.dropParams(previous);
      else this.restoreParams(previous);
      return loss;
    });
  }
}

function unpackClosureResult(result: ClosureResult<TensorInput>): {
  loss?: number;
  grads: Readonly<Record<string, TensorInput>>;
} {
  if (result && typeof result === 'object' && 'grads' in result) {
    const keys = Object.keys(result);
    const grads = (result as { grads: unknown }).grads;
    if (
      keys.every((k) => k === 'grads' || k === 'loss') &&
      grads &&
      typeof grads === 'object' &&
      !ArrayBuffer.isView(grads)
    ) {
      return result as { loss?: number; grads: Readonly<Record<string, TensorInput>> };
    }
  }
  return { grads: result as Readonly<Record<string, TensorInput>> };
}

class AnyOptimizer<O extends object> extends OnnxScheduleFreeOptimizer<O> {
  static make<O extends object>(
    algorithm: Algorithm<O>,
    ort: OrtModuleInput,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
  ): Promise<OnnxScheduleFreeOptimizer<O>> {
    return AnyOptimizer.build(() => new AnyOptimizer(algorithm, ort, params, options));
  }
}

class AnyClosureOptimizer<O extends object> extends OnnxScheduleFreeClosureOptimizer<O> {
  static make<O extends object>(
    algorithm: Algorithm<O>,
    ort: OrtModuleInput,
    params: OnnxParams<O>,
    options?: OnnxOptimizerOptions<O>,
  ): Promise<OnnxScheduleFreeClosureOptimizer<O>> {
    return AnyClosureOptimizer.build(() => new AnyClosureOptimizer(algorithm, ort, params, options));
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
  return AnyOptimizer.make(algorithm, ort, params, options);
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
  return AnyClosureOptimizer.make(algorithm, ort, params, options);
}
