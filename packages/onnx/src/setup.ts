import {
  type Algorithm,
  BACKEND_SPEC_VERSION,
  type Backend,
  check,
  type Engine,
  normalizeGroups,
} from '@schedulefree/core';
import { onnxExecution } from './execution.js';
import {
  checkParam,
  type OnnxOptimizerOptions,
  type OnnxParams,
  parseOptions,
  type StateLocation,
} from './options.js';
import { OnnxParts } from './parts.js';
import { dimsOf, type OrtModule, type OrtTensor, onHost, resolveOrt, type TensorInput } from './runtime.js';
import { SessionCache } from './sessions.js';
import { onnxStorage } from './storage.js';
import type { ViewContext } from './views.js';

/** The `ort` argument: the module namespace (`import * as ort from 'onnxruntime-web'`) or its default export. */
export type OrtModuleInput = OrtModule | { readonly default: OrtModule };

/**
 * Everything an ONNX optimizer is built from, prepared by {@link setUp} (asynchronous: device
 * parameters are read). Optimizer constructors take only this, so the
 * classes are created with their static `create`.
 */
export class OnnxSetup<O extends object> {
  private parts: OnnxParts<O> | undefined;

  constructor(
    readonly algorithm: Algorithm<O>,
    readonly params: OnnxParams<O>,
    readonly options: Record<string, unknown>,
    readonly context: OnnxContext,
  ) {}

  /** The engine's constructor arguments; refuses anything but a setup (a direct `new`). */
  static engineArgs<O extends object>(
    setup: OnnxSetup<O>,
  ): [Algorithm<O>, Backend<TensorInput>, OnnxParams<O>, Record<string, unknown>] {
    check(
      setup instanceof OnnxSetup,
      'UNSUPPORTED',
      () => 'ONNX optimizers are created with their static create: await Class.create(ort, params, options).',
    );
    return [setup.algorithm, setup.context.backend, setup.params, setup.options];
  }

  /** The ONNX side of the optimizer whose engine this is. */
  bind(engine: Engine<TensorInput, O>): OnnxParts<O> {
    this.parts = new OnnxParts(engine, this.context);
    return this.parts;
  }

  /**
   * Creates the sessions of every group's first step, so a provider that cannot run the graphs fails
   * here; then hands over the optimizer. On failure everything is released and the error thrown.
   */
  async ready<R>(optimizer: R): Promise<R> {
    const parts = this.parts!;
    try {
      await parts.compileNextSteps();
    } catch (error) {
      await parts.engine.dispose();
      await parts.dispose();
      throw error;
    }
    return optimizer;
  }
}

/** The backend and what the façades need besides the engine. */
export interface OnnxContext extends ViewContext {
  readonly backend: Backend<TensorInput>;
  readonly location: StateLocation;
}

/**
 * Resolves the runtime, splits the options, checks the parameters and reads device ones to the host
 * (keeping every parameter's dimensions), and builds the backend: the flat layout, runs that never write their inputs, and (state on the GPU)
 * gradients checked inside the step graph.
 */
export async function setUp<O extends object>(
  algorithm: Algorithm<O>,
  ortInput: unknown,
  params: OnnxParams<O>,
  options: OnnxOptimizerOptions<O> = {},
): Promise<OnnxSetup<O>> {
  const where = algorithm.name;
  const ort = resolveOrt(ortInput, where);
  const { engineOptions, location, sessionOptions } = parseOptions(where, options ?? {});
  const dims = new Map<string, readonly number[]>();
  const hostParams = await onTheHost(where, params, dims);
  const storage = onnxStorage(ort, location);
  const sessions = new SessionCache(ort, sessionOptions, location, where);
  const provider = sessionOptions.executionProviders?.[0];
  const backend: Backend<TensorInput> = {
    specVersion: BACKEND_SPEC_VERSION,
    name: `onnx-${(typeof provider === 'string' ? provider : provider?.name) ?? 'default'}`,
    storage,
    execution: onnxExecution(ort, sessions),
    capabilities: {
      layout: 'flat',
      immutable: true,
      deviceFiniteCheck: location === 'gpu-buffer',
      reductions: true,
      dtype: 'float32',
    },
  };
  const context = { ort, storage, sessions, dims, backend, location };
  return new OnnxSetup(algorithm, hostParams, engineOptions, context);
}

/** The parameters with device tensors read to the host; records each one's dimensions. */
async function onTheHost<O>(
  where: string,
  params: OnnxParams<O>,
  dims: Map<string, readonly number[]>,
): Promise<OnnxParams<O>> {
  const groups = normalizeGroups<TensorInput, O>(where, params);
  const read = await Promise.all(
    groups.map(async (g) => {
      const out: Record<string, TensorInput> = {};
      for (const [name, tensor] of Object.entries(g.params)) {
        checkParam(where, name, tensor);
        dims.set(name, [...dimsOf(tensor)]);
        out[name] = onHost(tensor) ? tensor : ((await (tensor as OrtTensor).getData()) as Float32Array);
      }
      return { ...g.overrides, params: out };
    }),
  );
  return Array.isArray(params) ? read : read[0].params;
}
