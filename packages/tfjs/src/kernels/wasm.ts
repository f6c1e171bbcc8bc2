import {
  FINITE_EXPORT,
  KERNEL_EXPORT,
  type KernelPlan,
  lowerFiniteCheck,
  lowerToWasm,
  wasmSimdSupported,
} from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';

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

const heaps = new WeakMap<object, WasmHeap | null>();

/**
 * The heap of a tfjs wasm backend instance, or null when the core's kernels cannot run in it: no
 * SIMD, an unexpected backend layout, or a shared (threaded) memory, which the kernels do not import.
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

/** Instances of each module in each memory (a module imports the memory it runs in). */
const instances = new WeakMap<WebAssembly.Memory, WeakMap<WebAssembly.Module, Record<string, unknown>>>();

function exportsOf(memory: WebAssembly.Memory, module: WebAssembly.Module): Record<string, unknown> {
  let byModule = instances.get(memory);
  if (!byModule) {
    byModule = new WeakMap();
    instances.set(memory, byModule);
  }
  let exports = byModule.get(module);
  if (!exports) {
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, unknown>;
    byModule.set(module, exports);
  }
  return exports;
}

const kernels = new WeakMap<KernelPlan, { module: WebAssembly.Module; inputs: readonly string[] }>();

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Runs a planned graph on tensors of the wasm backend with the core's SIMD kernel (`lowerToWasm`,
 * pointers as arguments): allocates `outputs` in tfjs's heap and fills them in one pass, reading
 * the inputs where tfjs keeps them. `args` are the plan's scalar values.
 */
export function runWasmKernel(
  heap: WasmHeap,
  plan: KernelPlan,
  outputs: readonly string[],
  inputs: Readonly<Record<string, Info>>,
  args: readonly number[],
): Info[] {
  let kernel = kernels.get(plan);
  if (!kernel) {
    const lowered = lowerToWasm(plan, outputs);
    kernel = { module: new WebAssembly.Module(lowered.bytes as BufferSource), inputs: lowered.inputs };
    kernels.set(plan, kernel);
  }
  const shape = [...inputs[kernel.inputs[0]].shape];
  const results = outputs.map(() => heap.allocate(shape));
  const step = exportsOf(heap.memory, kernel.module)[KERNEL_EXPORT] as (...a: number[]) => void;
  step(
    ...kernel.inputs.map((name) => heap.offsetOf(inputs[name])),
    ...results.map((info) => heap.offsetOf(info)),
    sizeOf(shape),
    ...args,
  );
  return results;
}

let finite: WebAssembly.Module | undefined;

/** True when no element of any float32 tensor is NaN or ±Infinity, checked in the heap with SIMD. */
export function wasmAllFinite(heap: WasmHeap, tensors: readonly Info[]): boolean {
  finite ??= new WebAssembly.Module(lowerFiniteCheck() as BufferSource);
  const check = exportsOf(heap.memory, finite)[FINITE_EXPORT] as (ptr: number, n: number) => number;
  return tensors.every((t) => check(heap.offsetOf(t), sizeOf(t.shape)) === 1);
}
