import type { KernelPlan } from '@schedulefree/core';
import { acquireKernel, type CachedKernel, releaseKernel } from './kernel-cache.js';
import { isGLMode } from './limits.js';
import {
  type LoweredKernel,
  type LoweredReduction,
  lowerPlan,
  lowerReduction,
  type OutputStyle,
} from './lower.js';
import { isDeviceValue } from './values.js';

/** A kernel function as gpu.js returns it (run shortcut), with the fields this package reads. */
type KernelFn = ((...args: unknown[]) => unknown) & {
  kernel?: { constructor: KernelClass };
  fallbackReason?: string | null;
};

type KernelClass = { readonly mode?: string; readonly name?: string };

/** The parts of a gpu.js `GPU` this package uses. */
export interface GpuLike {
  readonly mode?: string;
  readonly Kernel?: (KernelClass & { readonly features?: Record<string, unknown> }) | null;
  createKernel(source: string, settings: object): unknown;
  createKernelMap(subKernels: Record<string, string>, root: string, settings: object): unknown;
}

/** How kernels are built, fixed per optimizer. */
export interface KernelConfig {
  /** The backend mode (`webgl2`, `webgl`, `headlessgl`, `webgpu`, `webasm`, `cpu`). */
  readonly mode: string;
  readonly style: OutputStyle;
  /** Most results of one kernel map. */
  readonly maxResults: number;
  readonly asyncKernels: boolean;
  readonly optimizeFloatMemory: boolean;
}

/** One kernel of a lowered program; gpu.js builds it at its first call (it needs the argument types). */
export interface ProgramKernel {
  readonly lowered: LoweredKernel;
  readonly mapped: boolean;
  fn: KernelFn | null;
  /** Its key in the shared cache, once built. */
  key: string | null;
}

const NAMED_MODES = new Set(['webgl2', 'webgl', 'headlessgl', 'webgpu', 'webasm', 'cpu']);
const GL_CLASSES: Record<string, string> = {
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  HeadlessGLKernel: 'headlessgl',
};

/**
 * The backend a kernel class runs on. gpu.js's GL kernel classes all call their mode `gpu`; tell
 * them apart by class (`webgl` where a minified build renamed it).
 */
export function backendOf(Kernel: KernelClass | undefined, requested?: string): string | undefined {
  if (requested && NAMED_MODES.has(requested)) return requested;
  const mode = Kernel?.mode;
  if (mode !== 'gpu') return mode;
  return GL_CLASSES[Kernel?.name ?? ''] ?? 'webgl';
}

const ELEMENT = [
  '[this.thread.x]',
  '[this.thread.y][this.thread.x]',
  '[this.thread.z][this.thread.y][this.thread.x]',
];

/**
 * The gpu.js kernels of one optimizer: the lowered programs (per plan and shape), and the copy and
 * zero-fill helpers storage uses. Built kernels come from a cache shared by every optimizer on the
 * same GPU (see `kernel-cache.ts`); {@link destroy} lets go of this optimizer's share.
 */
export class GpuKernels {
  /** Backend modes the kernels actually ran in: a kernel that gpu.js moved to cpu shows up here. */
  readonly observedModes = new Set<string>();
  /** Kernels by program structure, shape and lerp pattern, with how many users run them now. */
  private readonly programs = new Map<string, { kernels: ProgramKernel[]; users: number }>();
  /** The pattern each user (a parameter group) runs now, per program structure and shape. */
  private readonly current = new Map<string, string>();
  /** Kernels of a pattern no longer in use, let go of once a run of the new one has finished. */
  private superseded: ProgramKernel[] = [];
  private readonly helpers = new Map<string, KernelFn>();
  /** Partial-sum kernels of reductions, by plan and shape. */
  private readonly reductions = new Map<string, { lowered: LoweredReduction; fn: KernelFn }>();
  /** Keys of the shared kernels used, released by {@link destroy}. */
  private readonly acquired: string[] = [];
  private warnedFallback = false;

  constructor(
    private readonly gpu: GpuLike,
    private readonly config: KernelConfig,
  ) {}

  /**
   * The kernels running `plan` over tensors of `shape` for `user` (a parameter group), lowered once
   * per plan and shape. A user runs one lerp pattern of a program at a time: when its pattern
   * changes (the averaging weight falls below ½, once early in a run), the kernels of the previous
   * one, if no other user runs them, are let go of after the run ({@link releaseSuperseded}), so
   * that their memory (in WebGL, their output textures) is freed.
   */
  program(plan: KernelPlan, shape: readonly number[], user: number): ProgramKernel[] {
    const program = `${plan.graph.key}|${shape.join('x')}`;
    const id = `${program}#${plan.pattern}`;
    const slot = `${user}|${program}`;
    const previous = this.current.get(slot);
    let entry = this.programs.get(id);
    if (entry && previous === id) return entry.kernels;
    if (!entry) {
      const rank = Math.min(Math.max(shape.length, 1), 3) as 1 | 2 | 3;
      const { style, maxResults } = this.config;
      const kernels = lowerPlan(plan, { style, rank, maxResults }).map((lowered) => ({
        lowered,
        mapped: Object.keys(lowered.subKernels).length > 0,
        fn: null,
        key: null,
      }));
      entry = { kernels, users: 0 };
      this.programs.set(id, entry);
    }
    entry.users++;
    this.current.set(slot, id);
    const old = previous === undefined ? undefined : this.programs.get(previous);
    if (old && --old.users === 0) {
      this.programs.delete(previous!);
      this.superseded.push(...old.kernels);
    }
    return entry.kernels;
  }

  /** Lets go of the kernels of superseded lerp patterns (called once no run uses them). */
  releaseSuperseded(): void {
    for (const k of this.superseded.splice(0)) {
      if (k.key === null) continue;
      const at = this.acquired.indexOf(k.key);
      if (at >= 0) this.acquired.splice(at, 1);
      releaseKernel(this.gpu, k.key);
    }
  }

  /** Calls a program kernel: its tensor arguments, then the scalar values of the run's plan. */
  call(k: ProgramKernel, shape: readonly number[], tensors: unknown[], scalars: readonly number[]): unknown {
    const { lowered } = k;
    if (!k.fn) {
      const types = [...tensors.map(argumentType), ...lowered.scalars.map(() => 'Float')];
      // The rows style: one row of the output per result.
      const output = lowered.rows ? [...shape, lowered.results.length] : shape;
      const settings = this.settings(output, types);
      const { source, subKernels } = lowered;
      k.key = JSON.stringify({ source, subKernels, settings });
      k.fn = this.kernel(output, k.key, () =>
        k.mapped
          ? this.gpu.createKernelMap(subKernels, source, settings)
          : this.gpu.createKernel(source, settings),
      );
    }
    return this.observe(k.fn, k.fn(...tensors, ...lowered.scalars.map((i) => scalars[i])));
  }

  /**
   * Runs the partial-sum kernel of a reduction plan over tensors of `shape` (lowered and built once
   * per plan and shape): `blocks` columns per term, each the sum of `block` consecutive elements.
   * The kernel returns host rows (it is not a pipeline kernel: its output is what the host reads
   * back), or a promise of them where gpu.js works asynchronously.
   */
  reduce(
    plan: KernelPlan,
    shape: readonly number[],
    scalars: readonly number[],
    argumentsOf: (slots: readonly string[]) => unknown[],
  ): { result: unknown; blocks: number } {
    const size = shape.reduce((a, b) => a * b, 1);
    const rank = Math.min(Math.max(shape.length, 1), 3) as 1 | 2 | 3;
    // About √n blocks of about √n elements: few values to read back, and enough threads.
    const block = Math.max(1, Math.ceil(Math.sqrt(size)));
    const blocks = Math.ceil(size / block);
    const id = `${plan.graph.key}#${plan.pattern}|${shape.join('x')}`;
    let entry = this.reductions.get(id);
    const lowered = entry?.lowered ?? lowerReduction(plan, rank);
    const tensors = argumentsOf(lowered.tensors);
    if (!entry) {
      const types = [...tensors.map(argumentType), ...lowered.scalars.map(() => 'Float')];
      const constants = {
        block,
        size,
        ...(rank > 1 ? { sx: shape[0] } : {}),
        ...(rank > 2 ? { sy: shape[1] } : {}),
      };
      const settings = {
        ...this.settings([blocks, lowered.terms.length], types),
        pipeline: false,
        constants,
        constantTypes: Object.fromEntries(Object.keys(constants).map((k) => [k, 'Integer'])),
      };
      const fn = this.kernel(
        [blocks, lowered.terms.length],
        JSON.stringify({ source: lowered.source, settings }),
        () => this.gpu.createKernel(lowered.source, settings),
      );
      entry = { lowered, fn };
      this.reductions.set(id, entry);
    }
    const { fn } = entry;
    const result = this.observe(fn, fn(...tensors, ...lowered.scalars.map((i) => scalars[i])));
    return { result, blocks };
  }

  /** A copy of `arg` (host data viewed with `shape`, or a device value) as a new kernel output. */
  copy(shape: readonly number[], arg: unknown): unknown {
    const fn = this.helper(
      `copy|${shape.join('x')}|${argumentType(arg)}`,
      shape,
      `function (a) {\n  return a${ELEMENT[Math.min(shape.length, 3) - 1]};\n}`,
      [argumentType(arg)],
    );
    return this.observe(fn, fn(arg));
  }

  /** A zero-filled kernel output of `shape`. */
  zeros(shape: readonly number[]): unknown {
    const fn = this.helper(`zeros|${shape.join('x')}`, shape, 'function (s) {\n  return s;\n}', ['Float']);
    return this.observe(fn, fn(0));
  }

  /** Lets go of every kernel used (shared kernels stay for their other users). */
  destroy(): void {
    this.programs.clear();
    this.current.clear();
    this.superseded = [];
    this.helpers.clear();
    this.reductions.clear();
    for (const key of this.acquired.splice(0)) releaseKernel(this.gpu, key);
  }

  private helper(key: string, shape: readonly number[], source: string, types: string[]): KernelFn {
    let fn = this.helpers.get(key);
    if (!fn) {
      const settings = this.settings(shape, types);
      fn = this.kernel(shape, JSON.stringify({ source, settings }), () =>
        this.gpu.createKernel(source, settings),
      );
      this.helpers.set(key, fn);
    }
    return fn;
  }

  /** A kernel from the GPU's shared cache, keyed by everything that goes into building it. */
  private kernel(shape: readonly number[], key: string, build: () => unknown): KernelFn {
    this.acquired.push(key);
    const elements = shape.reduce((a, b) => a * b, 1);
    return acquireKernel(this.gpu, key, elements, build as () => CachedKernel) as KernelFn;
  }

  private settings(shape: readonly number[], argumentTypes: string[]): object {
    const { mode, asyncKernels, optimizeFloatMemory } = this.config;
    return {
      output: [...shape],
      pipeline: true,
      immutable: true,
      precision: 'single',
      returnType: 'Float',
      argumentTypes,
      ...(isGLMode(mode) ? { tactic: 'precision', optimizeFloatMemory } : {}),
      ...(asyncKernels ? { asyncMode: true } : {}),
    };
  }

  /** Records the mode a kernel ran in (warning once if gpu.js moved it), and passes its result on. */
  private observe(fn: KernelFn, result: unknown): unknown {
    const Kernel = fn.kernel?.constructor;
    const { mode } = this.config;
    const actual = Kernel === this.gpu.Kernel ? mode : backendOf(Kernel);
    if (typeof actual !== 'string') return result;
    this.observedModes.add(actual);
    if (actual !== mode && !this.warnedFallback) {
      this.warnedFallback = true;
      console.warn(
        `@schedulefree/gpujs: a kernel runs in ${actual} mode instead of ${mode}` +
          `${fn.fallbackReason ? ` (${fn.fallbackReason})` : ''}; results stay correct but slower.`,
      );
    }
    return result;
  }
}

/** The gpu.js argument type of a kernel argument value. */
function argumentType(value: unknown): string {
  if (typeof value === 'number') return 'Float';
  if (isDeviceValue(value)) return String((value as { type?: unknown }).type ?? 'NumberTexture');
  return 'Array';
}
