import type { Graph } from '../ir/graph.js';
import { lerpPattern, planKernel, scalarValues } from '../lowering/kernel-plan.js';
import { Arena, CHUNK_ELEMENTS, type WasmApi } from './arena.js';
import { FINITE_EXPORT, KERNEL_EXPORT, lowerFiniteCheck, lowerToWasm, simdProbe } from './lower.js';

/**
 * Runs lowered kernels over Float32Arrays.
 *
 * Tensors on the JavaScript heap (the user's parameters and gradients) stream through scratch
 * regions: per chunk, each input is copied in (`TypedArray.set`, a memcpy), the kernel runs, each
 * output is copied back. A chunk is small enough to stay in cache, so main-memory traffic is that
 * of one fused pass. Large tensors' optimizer state is moved into an arena of its own at the first
 * step that writes it (the backend replaces those slots with views of the arena) and is then read
 * and written in place by the kernel, which overlaps that traffic with its arithmetic.
 */

const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Tensors at least this long keep their optimizer state resident in wasm memory. */
export const RESIDENT_MIN_ELEMENTS = 1 << 16;

let simd: boolean | undefined;

/** True when this engine runs WebAssembly with 128-bit SIMD (Node ≥ 16.4, current browsers). */
export function wasmSimdSupported(): boolean {
  if (simd === undefined) {
    try {
      simd = api?.validate(simdProbe()) === true;
    } catch {
      simd = false;
    }
  }
  return simd;
}

/** A tensor a kernel touches, and whether it is read and/or written. */
interface Operand {
  readonly name: string;
  readonly load: boolean;
  readonly store: boolean;
}

interface Compiled {
  readonly module: object;
  readonly plan: ReturnType<typeof planKernel>;
  /** Slots in pointer-argument order: the loaded inputs, then the stored outputs. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Every slot touched, once each (a slot both read and written streams through one region). */
  readonly operands: readonly Operand[];
  /** Changed slots other than the parameter: the ones that may live in wasm memory. */
  readonly state: readonly string[];
}

const compiled = new Map<string, Compiled | null>();
let shared: Arena | undefined;
let finiteModule: object | undefined;

function compile(graph: Graph, pattern: string): Compiled {
  const plan = planKernel(graph, pattern);
  const { bytes, inputs, outputs } = lowerToWasm(plan);
  const operands = [...new Set([...inputs, ...outputs])].map((name) => ({
    name,
    load: inputs.includes(name),
    store: outputs.includes(name),
  }));
  // The parameter is the caller's array and is updated in place, never moved.
  const state = outputs.filter((name) => name !== 'param');
  return { module: new api!.Module(bytes), plan, inputs, outputs, operands, state };
}

/** The compiled kernel of a graph for one lerp pattern, built once; null if it cannot be. */
function kernelFor(graph: Graph, pattern: string): Compiled | null {
  const key = `${graph.key}|${pattern}`;
  let kernel = compiled.get(key);
  if (kernel === undefined) {
    try {
      kernel = compile(graph, pattern);
    } catch {
      // E.g. a Content-Security-Policy without 'wasm-unsafe-eval': the caller falls back.
      kernel = null;
    }
    compiled.set(key, kernel);
  }
  return kernel;
}

/** The shared streaming arena, replaced by a larger one when more regions are needed. */
function sharedArena(regions: number): Arena {
  if (!shared || shared.regions.length < regions) shared = new Arena(api!, regions);
  return shared;
}

/** The arena holding every state slot of a run and enough regions for the rest, if there is one. */
function homeArena(kernel: Compiled, slots: Record<string, Float32Array>): Arena | undefined {
  const { operands, state } = kernel;
  const anchor = state.length > 0 ? state[0] : operands.find((o) => Arena.of(slots[o.name]))?.name;
  const home = anchor === undefined ? undefined : Arena.of(slots[anchor]);
  if (!home) return undefined;
  let streamed = 0;
  for (const o of operands) if (!home.holds(slots[o.name])) streamed++;
  for (const name of state) if (!home.holds(slots[name])) return undefined;
  return streamed <= home.regions.length ? home : undefined;
}

type KernelCall = (...args: number[]) => void;

const kernelCall = (arena: Arena, kernel: Compiled) =>
  arena.exports(kernel.module)[KERNEL_EXPORT] as KernelCall;

/**
 * Picks the arena of a run and instantiates the kernel there. A large tensor whose state slots are
 * not yet resident together gets a new arena holding them (their `slots` entries are replaced by
 * its views, once nothing can fail any more); small tensors stream through the shared arena.
 */
function prepare(kernel: Compiled, slots: Record<string, Float32Array>, n: number) {
  const { operands, state } = kernel;
  if (n >= RESIDENT_MIN_ELEMENTS) {
    const home = homeArena(kernel, slots);
    if (home) return { arena: home, call: kernelCall(home, kernel) };
    if (state.length > 0) {
      let arena: Arena | undefined;
      let call: KernelCall | undefined;
      try {
        arena = new Arena(
          api!,
          operands.length - state.length,
          state.map(() => n),
        );
        call = kernelCall(arena, kernel);
      } catch {
        // Not enough memory for an arena: stream instead.
      }
      if (arena && call) {
        state.forEach((name, i) => {
          arena.resident[i].set(slots[name]);
          slots[name] = arena.resident[i];
        });
        return { arena, call };
      }
    }
  }
  const arena = sharedArena(operands.length);
  return { arena, call: kernelCall(arena, kernel) };
}

/**
 * Runs a graph over Float32Array tensors with its SIMD kernel, in place (or by replacing state
 * slots with resident views, see above). Returns false, having touched nothing, when the engine has
 * no SIMD or the graph cannot be compiled or instantiated; the caller then uses another lowering.
 */
export function runGraphWasm(
  graph: Graph,
  slots: Record<string, Float32Array>,
  scalars: Readonly<Record<string, number>>,
): boolean {
  if (!wasmSimdSupported()) return false;
  const kernel = kernelFor(graph, lerpPattern(graph, scalars));
  if (!kernel) return false;
  const n = slots[graph.inputs[0]].length;
  let prepared: ReturnType<typeof prepare>;
  try {
    prepared = prepare(kernel, slots, n);
  } catch {
    return false;
  }
  const { arena, call } = prepared;
  const { f32 } = arena;
  const args = scalarValues(kernel.plan, scalars);

  // Byte address of each slot's current chunk: a region for streamed tensors, the tensor itself
  // (advanced per chunk) for resident ones.
  const base = new Map<string, number>();
  const resident = new Set<string>();
  const ins: Float32Array[] = [];
  const inAt: number[] = [];
  const outs: Float32Array[] = [];
  const outViews: Float32Array[] = [];
  let region = 0;
  for (const { name, load, store } of kernel.operands) {
    const tensor = slots[name];
    if (arena.holds(tensor)) {
      base.set(name, tensor.byteOffset);
      resident.add(name);
      continue;
    }
    const r = region++;
    base.set(name, arena.regionOffset(r));
    if (load) {
      ins.push(tensor);
      inAt.push(arena.regionOffset(r) / 4);
    }
    if (store) {
      outs.push(tensor);
      outViews.push(arena.regions[r]);
    }
  }
  const slotOrder = [...kernel.inputs, ...kernel.outputs];
  // One argument array, updated per chunk: pointers, element count, scalars.
  const callArgs = [...slotOrder.map(() => 0), 0, ...args];

  for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
    const end = Math.min(start + CHUNK_ELEMENTS, n);
    const len = end - start;
    const whole = len === n; // one chunk: copy whole arrays, no subarray views
    for (let j = 0; j < ins.length; j++) f32.set(whole ? ins[j] : ins[j].subarray(start, end), inAt[j]);
    for (let j = 0; j < slotOrder.length; j++) {
      const name = slotOrder[j];
      callArgs[j] = base.get(name)! + (resident.has(name) ? 4 * start : 0);
    }
    callArgs[slotOrder.length] = len;
    call.apply(null, callArgs);
    for (let j = 0; j < outs.length; j++) {
      outs[j].set(len === CHUNK_ELEMENTS ? outViews[j] : outViews[j].subarray(0, len), start);
    }
  }
  return true;
}

/**
 * True when a Float32Array holds no NaN or ±Infinity, checked chunk by chunk with SIMD; undefined
 * when SIMD is unavailable (the caller then checks in JavaScript).
 */
export function allFiniteWasm(a: Float32Array): boolean | undefined {
  if (!wasmSimdSupported()) return undefined;
  let finite: (ptr: number, n: number) => number;
  let arena: Arena;
  try {
    finiteModule ??= new api!.Module(lowerFiniteCheck());
    arena = sharedArena(1);
    finite = arena.exports(finiteModule)[FINITE_EXPORT] as typeof finite;
  } catch {
    return undefined;
  }
  const n = a.length;
  const region = arena.regions[0];
  const at = arena.regionOffset(0);
  for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
    const end = Math.min(start + CHUNK_ELEMENTS, n);
    region.set(start === 0 && end === n ? a : a.subarray(start, end));
    if (!finite(at, end - start)) return false;
  }
  return true;
}
