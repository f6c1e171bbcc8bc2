import { type ElementwiseProgram, type Graph, graphOf } from '@schedulefree/core';
import * as tf from '@tensorflow/tfjs';
import { compileHostKernel, type HostKernel, outputNames } from './codegen.js';
import { type HostAccess, hostAccessFor } from './host.js';
import { runWasmKernel, wasmAllFinite, wasmHeapOf } from './wasm-runtime.js';
import { isWebglBackend, runWebglKernel } from './webgl.js';

interface Compiled {
  readonly graph: Graph;
  readonly kernelName: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly run: HostKernel;
}

const compiled = new Map<string, Compiled>();

function compiledOf(program: ElementwiseProgram): Compiled {
  let entry = compiled.get(program.key);
  if (!entry) {
    const graph = graphOf(program);
    entry = {
      graph,
      kernelName: `ScheduleFree:${program.key}`,
      inputs: graph.inputs,
      outputs: outputNames(graph),
      run: compileHostKernel(graph),
    };
    compiled.set(program.key, entry);
  }
  return entry;
}

/**
 * Backends (by name) with fused kernels: cpu and wasm keep tensors in host memory (a JavaScript
 * loop, a WebAssembly SIMD function); webgl runs one fragment shader per output.
 */
export const FUSED_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgl'];

function register(entry: Compiled, backendName: string): void {
  if (tf.getKernel(entry.kernelName, backendName)) return;
  tf.registerKernel({
    kernelName: entry.kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      if (backendName === 'webgl' && isWebglBackend(backend)) {
        const infos = entry.inputs.map((name) => inputs[name] as tf.TensorInfo);
        return runWebglKernel(backend, entry.graph, infos, attrs as Record<string, number>);
      }
      const heap = backendName === 'wasm' ? wasmHeapOf(backend) : null;
      if (heap) {
        // A WebAssembly SIMD kernel inside tfjs's own memory: no copies, four lanes per instruction.
        const infos = entry.inputs.map((name) => inputs[name] as tf.TensorInfo);
        return runWasmKernel(heap, entry.graph, infos, attrs as Record<string, number>);
      }
      const access = hostAccessFor(backendName, backend) as HostAccess;
      const infos = entry.inputs.map((name) => inputs[name] as tf.TensorInfo);
      const shape = infos[0].shape;
      // Allocate every output before taking views: an allocation may grow (and move) the wasm heap.
      const outInfos = entry.outputs.map(() => access.allocate([...shape]));
      entry.run(
        infos.map((info) => access.view(info)),
        outInfos.map((info) => access.view(info)),
        attrs as Record<string, number>,
      );
      return outInfos;
    },
  });
}

/** Which fused kernel the current backend runs: WebAssembly SIMD, a JavaScript loop, shaders, or none. */
export function fusedKernelKind(): 'wasm-simd' | 'js' | 'webgl' | null {
  if (!fusedAvailable()) return null;
  const name = tf.getBackend();
  if (name === 'webgl') return 'webgl';
  return name === 'wasm' && wasmHeapOf(tf.backend()) ? 'wasm-simd' : 'js';
}

/** Whether the current tfjs backend can run fused kernels. */
export function fusedAvailable(): boolean {
  const name = tf.getBackend();
  if (!FUSED_BACKENDS.includes(name)) return false;
  return name === 'webgl' ? isWebglBackend(tf.backend()) : hostAccessFor(name, tf.backend()) !== null;
}

/**
 * Runs a program as one fused kernel on the current backend: one pass over memory that reads each
 * input once and writes each output once. Returns the outputs as new tensors (tracked by the
 * enclosing `tidy`), or null when the backend has no fused kernels (then run the op chain).
 */
export function runFused(
  program: ElementwiseProgram,
  slots: Readonly<Record<string, tf.Tensor>>,
  scalars: Readonly<Record<string, number>>,
): Record<string, tf.Tensor> | null {
  if (!fusedAvailable()) return null;
  const entry = compiledOf(program);
  register(entry, tf.getBackend());
  const inputs: Record<string, tf.Tensor> = {};
  for (const name of entry.inputs) inputs[name] = slots[name];
  const attrs: Record<string, number> = {};
  for (const name of graphOf(program).scalars) attrs[name] = scalars[name];
  const result = tf.engine().runKernel(entry.kernelName, inputs, attrs) as tf.Tensor | tf.Tensor[];
  const outputs = Array.isArray(result) ? result : [result];
  return Object.fromEntries(entry.outputs.map((name, i) => [name, outputs[i]]));
}

/**
 * True when no element of any tensor is NaN or ±Infinity, checked in one pass over host memory on
 * the cpu and wasm backends (no copy, no sync). Returns null on other backends.
 */
export function hostAllFinite(tensors: readonly tf.Tensor[]): boolean | null {
  const name = tf.getBackend();
  const access = name === 'cpu' || name === 'wasm' ? hostAccessFor(name, tf.backend()) : null;
  if (!access || tensors.some((t) => t.dtype !== 'float32')) return null;
  const heap = name === 'wasm' ? wasmHeapOf(tf.backend()) : null;
  if (heap) return wasmAllFinite(heap, tensors);
  for (const t of tensors) {
    // x·0 is 0 for finite x and NaN otherwise; independent sums keep the adds from waiting on each other.
    const a = access.view(t);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n = a.length;
    const whole = n - (n % 4);
    let i = 0;
    for (; i < whole; i += 4) {
      s0 += a[i] * 0;
      s1 += a[i + 1] * 0;
      s2 += a[i + 2] * 0;
      s3 += a[i + 3] * 0;
    }
    for (; i < n; i++) s0 += a[i] * 0;
    if (s0 + s1 + s2 + s3 !== 0) return false;
  }
  return true;
}
