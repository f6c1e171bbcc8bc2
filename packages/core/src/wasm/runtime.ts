import type { Graph } from '../ir/graph.js';
import { Arena, CHUNK_ELEMENTS, type WasmApi } from './arena.js';
import {
  FINITE_EXPORT,
  KERNEL_EXPORT,
  type LoweredKernel,
  lerpPattern,
  lowerFiniteCheck,
  lowerToWasm,
  POINTER_BASE,
  simdProbe,
  writeScalarTable,
} from './lower.js';

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

interface Compiled extends LoweredKernel {
  readonly module: object;
}

const compiled = new Map<string, Compiled | null>();
let shared: Arena | undefined;
let finiteModule: object | undefined;

/** The compiled kernel of a graph for one lerp pattern, built once; null if it cannot be. */
function kernelFor(graph: Graph, pattern: string): Compiled | null {
  const key = `${graph.key}|${pattern}`;
  let kernel = compiled.get(key);
  if (kernel === undefined) {
    try {
      const lowered = lowerToWasm(graph, pattern);
      kernel = { ...lowered, module: new api!.Module(lowered.bytes) };
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

/**
 * Picks the arena of a run. Large tensors whose changed state slots are not yet resident together
 * get a new arena holding them (their `slots` entries are replaced by its views); everything else
 * streams through the shared arena.
 */
function arenaFor(kernel: Compiled, slots: Record<string, Float32Array>, n: number): Arena {
  const used = new Set([...kernel.loads, ...kernel.stores]);
  // The parameter is the caller's array and is updated in place, never moved.
  const state = kernel.stores.filter((name) => name !== 'param');
  if (n >= RESIDENT_MIN_ELEMENTS) {
    const anchor = state.length > 0 ? state[0] : [...used].find((name) => Arena.of(slots[name]));
    const home = anchor === undefined ? undefined : Arena.of(slots[anchor]);
    if (home && state.every((name) => home.holds(slots[name]))) {
      const streamed = [...used].filter((name) => !home.holds(slots[name])).length;
      if (streamed <= home.regions.length) return home;
    }
    if (state.length > 0) {
      try {
        const arena = new Arena(
          api!,
          used.size - state.length,
          state.map(() => n),
        );
        state.forEach((name, i) => {
          arena.resident[i].set(slots[name]);
          slots[name] = arena.resident[i];
        });
        return arena;
      } catch {
        // Not enough memory for an arena: stream instead.
      }
    }
  }
  return sharedArena(used.size);
}

/**
 * Runs a graph over Float32Array tensors with its SIMD kernel, in place (or by replacing state
 * slots with resident views, see above). Returns false, having touched nothing, when the engine has
 * no SIMD or the graph cannot be compiled; the caller then uses another lowering.
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
  const arena = arenaFor(kernel, slots, n);
  const call = arena.exports(kernel.module)[KERNEL_EXPORT] as (len: number) => void;
  writeScalarTable(arena.f32, kernel.scalars, scalars);

  // Per tensor: resident ones advance their pointer per chunk; streamed ones get a region.
  const residentPointer: number[] = [];
  const residentBase: number[] = [];
  const ins: Float32Array[] = [];
  const inAt: number[] = [];
  const outs: Float32Array[] = [];
  const outViews: Float32Array[] = [];
  let region = 0;
  for (const name of new Set([...kernel.loads, ...kernel.stores])) {
    const tensor = slots[name];
    const pointer = POINTER_BASE / 4 + graph.inputs.indexOf(name);
    if (arena.holds(tensor)) {
      residentPointer.push(pointer);
      residentBase.push(tensor.byteOffset);
      continue;
    }
    const r = region++;
    arena.i32[pointer] = arena.regionOffset(r);
    if (kernel.loads.includes(name)) {
      ins.push(tensor);
      inAt.push(arena.regionOffset(r) / 4);
    }
    if (kernel.stores.includes(name)) {
      outs.push(tensor);
      outViews.push(arena.regions[r]);
    }
  }

  const { f32, i32 } = arena;
  for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
    const end = Math.min(start + CHUNK_ELEMENTS, n);
    const len = end - start;
    for (let j = 0; j < ins.length; j++) f32.set(ins[j].subarray(start, end), inAt[j]);
    for (let j = 0; j < residentPointer.length; j++) i32[residentPointer[j]] = residentBase[j] + 4 * start;
    // Lanes past the end of a partial chunk compute on padding and are never copied back.
    call(((len + 3) & ~3) * 4);
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
  let finite: (ptr: number, len: number) => number;
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
    const len = end - start;
    region.set(a.subarray(start, end));
    const padded = (len + 3) & ~3;
    if (padded !== len) region.fill(0, len, padded);
    if (!finite(at, padded * 4)) return false;
  }
  return true;
}
