import {
  compileLoop,
  type ElementwiseProgram,
  type Graph,
  graphOf,
  type KernelPlan,
  type LoopKernel,
  lerpPattern,
  planKernel,
  scalarValues,
} from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { hostAccessFor } from './host.js';
import { runWasmKernel, wasmHeapOf } from './wasm.js';
import { isWebglBackend, runWebglKernel } from './webgl.js';

type Info = tf.TensorInfo;

/**
 * Backends (by name) with fused kernels: cpu and wasm keep tensors in host memory (a JavaScript
 * loop, a WebAssembly SIMD function); webgl runs one fragment shader per output.
 */
export const FUSED_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgl'];

/** Whether the current tfjs backend can run fused kernels. */
export function fusedAvailable(): boolean {
  const name = tf.getBackend();
  if (!FUSED_BACKENDS.includes(name)) return false;
  return name === 'webgl' ? isWebglBackend(tf.backend()) : hostAccessFor(name, tf.backend()) !== null;
}

/** Which fused kernel the current backend runs: WebAssembly SIMD, a JavaScript loop, shaders, or none. */
export function fusedKernelKind(): 'wasm-simd' | 'js' | 'webgl' | null {
  if (!fusedAvailable()) return null;
  const name = tf.getBackend();
  if (name === 'webgl') return 'webgl';
  return name === 'wasm' && wasmHeapOf(tf.backend()) ? 'wasm-simd' : 'js';
}

const loops = new WeakMap<KernelPlan, LoopKernel>();

/**
 * The kernel of one plan on one backend. Every output is a fresh tensor (tfjs tensors are immutable
 * and may share storage): the core's lowerings are asked for every output of the graph, out of place.
 */
function kernelFunc(plan: KernelPlan, outputs: readonly string[], backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const infos = inputs as unknown as Record<string, Info>;
    const args = (attrs as { args: number[] }).args;
    if (backendName === 'webgl' && isWebglBackend(backend))
      return runWebglKernel(backend, plan, outputs, infos, args);
    const heap = backendName === 'wasm' ? wasmHeapOf(backend) : null;
    if (heap) return runWasmKernel(heap, plan, outputs, infos, args);
    // One JavaScript loop over host memory (cpu, or wasm without SIMD).
    const access = hostAccessFor(backendName, backend)!;
    const shape = [...infos[plan.loads[0]].shape];
    // Allocate every output before taking views: an allocation may grow (and move) the wasm heap.
    const results = outputs.map(() => access.allocate(shape));
    let loop = loops.get(plan);
    if (!loop) {
      loop = compileLoop(plan, outputs);
      loops.set(plan, loop);
    }
    loop(
      plan.graph.inputs.map((name) => (infos[name] ? access.view(infos[name]) : [])),
      results.map((info) => access.view(info)),
      args,
    );
    return results;
  };
}

/** A planned graph's kernel: its outputs, its registered name, and the backends it is registered for. */
interface FusedEntry {
  readonly plan: KernelPlan;
  readonly outputs: readonly string[];
  readonly kernelName: string;
  readonly registered: Set<string>;
}

/** Entries by graph and lerp pattern (asked for every group of every step: no string building). */
const entries = new WeakMap<Graph, Map<string, FusedEntry>>();

function entryFor(graph: Graph, scalars: Readonly<Record<string, number>>): FusedEntry {
  const pattern = lerpPattern(graph, scalars);
  let byPattern = entries.get(graph);
  if (!byPattern) {
    byPattern = new Map();
    entries.set(graph, byPattern);
  }
  let entry = byPattern.get(pattern);
  if (!entry) {
    entry = {
      plan: planKernel(graph, pattern),
      outputs: Object.keys(graph.outputs),
      kernelName: `ScheduleFree:${graph.key}#${pattern}`,
      registered: new Set(),
    };
    byPattern.set(pattern, entry);
  }
  return entry;
}

/** Runs one member's slots through a fused kernel; returns the outputs as new tensors (tracked by the enclosing `tidy`). */
export type FusedKernel = (slots: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>;

/**
 * A program as one fused kernel on the current backend, for one run's scalars: one pass over
 * memory that reads each input once and writes each output once, with the lerp branches and
 * scalar arguments of the core's plan. Null when the backend has no fused kernels (then run the
 * op chain).
 */
export function fusedKernel(
  program: ElementwiseProgram,
  scalars: Readonly<Record<string, number>>,
): FusedKernel | null {
  if (!fusedAvailable()) return null;
  const { plan, outputs, kernelName, registered } = entryFor(graphOf(program), scalars);
  const backendName = tf.getBackend();
  if (!registered.has(backendName)) {
    if (!tf.getKernel(kernelName, backendName))
      tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc(plan, outputs, backendName) });
    registered.add(backendName);
  }
  const attrs = { args: scalarValues(plan, scalars) };
  return (slots) => {
    const inputs: Record<string, tf.Tensor> = {};
    for (const name of plan.loads) inputs[name] = slots[name];
    const result = tf.engine().runKernel(kernelName, inputs, attrs) as tf.Tensor | tf.Tensor[];
    const tensors = Array.isArray(result) ? result : [result];
    const out: Record<string, tf.Tensor> = {};
    outputs.forEach((name, i) => {
      out[name] = tensors[i];
    });
    return out;
  };
}

/** {@link fusedKernel} for one set of slots, or null. */
export function runFused(
  program: ElementwiseProgram,
  slots: Readonly<Record<string, tf.Tensor>>,
  scalars: Readonly<Record<string, number>>,
): Record<string, tf.Tensor> | null {
  return fusedKernel(program, scalars)?.(slots) ?? null;
}
