/**
 * Linear memories the kernels run in. An arena is one WebAssembly.Memory laid out as a small
 * reserved header, then scratch regions (one chunk each) for tensors streamed in from the JavaScript heap,
 * then optionally resident tensors: optimizer state that lives in wasm memory, so the kernel
 * streams it itself while it computes instead of waiting for a copy.
 *
 * An arena never grows: growing would detach every view of its buffer, and resident tensors are
 * such views, held by the optimizer. A larger arena is a new arena.
 */

/** The part of the WebAssembly JS API used here (declared locally: the core's lib has no DOM types). */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
}

/** Elements per chunk: one call's scratch regions (64 KiB each, at most one per input) stay in L2. */
export const CHUNK_ELEMENTS = 16384;
const REGION_BYTES = CHUNK_ELEMENTS * 4;
const PAGE_BYTES = 65536;
/** Bytes before the first region (address 0 stays unused, so no real pointer is null). */
const HEADER_BYTES = 64;
/**
 * Resident tensors start on a cache line and are padded to whole lines, so the lanes past the end
 * of a last partial vector never touch a neighbour.
 */
const ALIGN = 64;

const arenas = new WeakMap<ArrayBuffer, Arena>();

export class Arena {
  private readonly memory: object;
  readonly buffer: ArrayBuffer;
  /** The whole memory as float32. */
  readonly f32: Float32Array;
  /** Scratch region views, one chunk each. */
  readonly regions: readonly Float32Array[];
  /** Resident tensors, in the order of the sizes given. */
  readonly resident: readonly Float32Array[];
  private readonly instances = new Map<object, Record<string, unknown>>();

  /** Throws (RangeError) when the engine cannot provide that much memory. */
  constructor(
    private readonly api: WasmApi,
    regionCount: number,
    residentSizes: readonly number[] = [],
  ) {
    const regionBytes = regionCount * REGION_BYTES;
    const residentBytes = residentSizes.map((n) => Math.ceil((4 * n) / ALIGN) * ALIGN);
    const total = HEADER_BYTES + regionBytes + residentBytes.reduce((a, b) => a + b, 0);
    const wasmMemory = new api.Memory({ initial: Math.max(1, Math.ceil(total / PAGE_BYTES)) });
    this.memory = wasmMemory;
    this.buffer = wasmMemory.buffer;
    this.f32 = new Float32Array(this.buffer);
    this.regions = Array.from(
      { length: regionCount },
      (_, r) => new Float32Array(this.buffer, HEADER_BYTES + r * REGION_BYTES, CHUNK_ELEMENTS),
    );
    let at = HEADER_BYTES + regionBytes;
    this.resident = residentSizes.map((n, i) => {
      const view = new Float32Array(this.buffer, at, n);
      at += residentBytes[i];
      return view;
    });
    if (residentSizes.length > 0) arenas.set(this.buffer, this);
  }

  /** The arena a tensor resides in, if any. */
  static of(tensor: Float32Array): Arena | undefined {
    return arenas.get(tensor.buffer as ArrayBuffer);
  }

  /** Whether `tensor` lives in this arena's memory. */
  holds(tensor: Float32Array): boolean {
    return tensor.buffer === this.buffer;
  }

  /** Byte offset of scratch region `r`. */
  regionOffset(r: number): number {
    return this.regions[r].byteOffset;
  }

  /** The exports of a compiled module instantiated over this memory (once per module). */
  exports(module: object): Record<string, unknown> {
    let exports = this.instances.get(module);
    if (!exports) {
      exports = new this.api.Instance(module, { env: { memory: this.memory } }).exports;
      this.instances.set(module, exports);
    }
    return exports;
  }
}
