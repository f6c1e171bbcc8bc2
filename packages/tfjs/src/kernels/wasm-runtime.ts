import type { Graph } from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';
import { Code, encodeModule, op, simd, V128 } from './wasm-encoder.js';
import {
  FINITE,
  finiteModule,
  type LoweredKernel,
  lerpPattern,
  lowerGraph,
  STEP,
  scalarValue,
} from './wasm-simd.js';

type Info = tf.TensorInfo;

/** The parts of tfjs's wasm backend the kernels use (checked at run time, see {@link wasmHeapOf}). */
interface WasmBackendLike {
  wasm: { asm?: Record<string, unknown> };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): Info;
}

/** The memory of tfjs's wasm backend, and how to find and allocate tensors in it. */
export interface WasmHeap {
  readonly memory: WebAssembly.Memory;
  offsetOf(info: Info): number;
  allocate(shape: number[]): Info;
}

let simdSupported: boolean | undefined;

/** Whether this engine runs WebAssembly SIMD (checked once, by validating a tiny SIMD function). */
export function wasmSimdSupported(): boolean {
  if (simdSupported === undefined) {
    try {
      const body = new Code().byte(op.f32Const).f32(0).simd(simd.f32x4Splat).byte(op.drop);
      simdSupported = WebAssembly.validate(
        encodeModule([{ name: 'probe', params: [], results: [], locals: [V128], body }]) as BufferSource,
      );
    } catch {
      simdSupported = false;
    }
  }
  return simdSupported;
}

const heaps = new WeakMap<object, WasmHeap | null>();

/**
 * The heap of a tfjs wasm backend instance, or null when kernels cannot run in it: no SIMD, an
 * unexpected backend layout, or a shared (threaded) memory, which the kernel modules do not import.
 */
export function wasmHeapOf(backend: unknown): WasmHeap | null {
  const b = backend as Partial<WasmBackendLike> | null;
  if (!b || typeof b !== 'object') return null;
  if (heaps.has(b)) return heaps.get(b)!;
  let heap: WasmHeap | null = null;
  const memory = b.wasm?.asm?.memory;
  if (
    typeof WebAssembly !== 'undefined' &&
    memory instanceof WebAssembly.Memory &&
    !(typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) &&
    typeof b.dataIdMap?.get === 'function' &&
    typeof b.makeOutput === 'function' &&
    wasmSimdSupported()
  ) {
    const wasm = b as WasmBackendLike;
    heap = {
      memory,
      offsetOf: (info) => wasm.dataIdMap.get(info.dataId)!.memoryOffset,
      allocate: (shape) => wasm.makeOutput(shape, 'float32'),
    };
  }
  heaps.set(b, heap);
  return heap;
}

const modules = new Map<string, { module: WebAssembly.Module; lowered: LoweredKernel }>();
const instances = new WeakMap<WebAssembly.Memory, Map<string, Record<string, unknown>>>();

function exportsOf(memory: WebAssembly.Memory, key: string, module: WebAssembly.Module) {
  let byKey = instances.get(memory);
  if (!byKey) {
    byKey = new Map();
    instances.set(memory, byKey);
  }
  let exports = byKey.get(key);
  if (!exports) {
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, unknown>;
    byKey.set(key, exports);
  }
  return exports;
}

function kernelFor(graph: Graph, pattern: string) {
  const key = `${graph.key}#${pattern}`;
  let entry = modules.get(key);
  if (!entry) {
    const lowered = lowerGraph(graph, pattern);
    entry = { module: new WebAssembly.Module(lowered.bytes as BufferSource), lowered };
    modules.set(key, entry);
  }
  return { key, ...entry };
}

/**
 * Runs a graph on tensors of the wasm backend: allocates the outputs in its heap and fills them in
 * one SIMD pass. `inputs` are in `graph.inputs` order; returns outputs in `graph.outputs` order.
 */
export function runWasmKernel(
  heap: WasmHeap,
  graph: Graph,
  inputs: readonly Info[],
  scalars: Readonly<Record<string, number>>,
): Info[] {
  const { key, module, lowered } = kernelFor(graph, lerpPattern(graph, scalars));
  const shape = [...inputs[0].shape];
  const size = shape.reduce((a, b) => a * b, 1);
  const outputs = lowered.outputs.map(() => heap.allocate(shape));
  const step = exportsOf(heap.memory, key, module)[STEP] as (...args: number[]) => void;
  step(
    ...inputs.map((info) => heap.offsetOf(info)),
    ...outputs.map((info) => heap.offsetOf(info)),
    size,
    ...lowered.scalars.map((use) => scalarValue(use, scalars)),
  );
  return outputs;
}

let finite: WebAssembly.Module | undefined;

/** True when no element of any float32 tensor is NaN or ±Infinity, checked in the heap with SIMD. */
export function wasmAllFinite(heap: WasmHeap, tensors: readonly Info[]): boolean {
  finite ??= new WebAssembly.Module(finiteModule() as BufferSource);
  const check = exportsOf(heap.memory, FINITE, finite)[FINITE] as (ptr: number, n: number) => number;
  return tensors.every(
    (t) =>
      check(
        heap.offsetOf(t),
        t.shape.reduce((a, b) => a * b, 1),
      ) === 1,
  );
}
