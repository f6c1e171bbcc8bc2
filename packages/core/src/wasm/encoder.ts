/**
 * A minimal WebAssembly binary encoder: just enough of the format (types, one imported memory,
 * functions, exports, code; MVP plus 128-bit SIMD opcodes) to emit the kernels in `lower.ts`.
 * Hand-written so the core keeps zero runtime dependencies.
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** MVP opcodes used by the kernels. */
export const Op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  br_if: 0x0d,
  end: 0x0b,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  f32Eq: 0x5b,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Abs: 0x8b,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD opcodes (each follows the 0xfd prefix, LEB128-encoded). */
export const Simd = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  i32x4Eq: 0x37,
  v128And: 0x4e,
  v128AnyTrue: 0x53,
  i32x4MaxU: 0xb9,
  f32x4Abs: 0xe0,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

const SIMD_PREFIX = 0xfd;
const BLOCK_EMPTY = 0x40;

/** An append-only byte buffer with the format's integer encodings. */
export class ByteWriter {
  readonly bytes: number[] = [];

  byte(b: number): this {
    this.bytes.push(b & 0xff);
    return this;
  }
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i]);
    return this;
  }
  /** Unsigned LEB128. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new RangeError(`u32 out of range: ${value}`);
    do {
      let b = value & 0x7f;
      value = Math.floor(value / 128);
      if (value !== 0) b |= 0x80;
      this.byte(b);
    } while (value !== 0);
    return this;
  }
  /** Signed LEB128 (for i32.const). */
  s32(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff)
      throw new RangeError(`s32 out of range: ${value}`);
    for (;;) {
      const b = value & 0x7f;
      value >>= 7;
      const done = (value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  /** A length-prefixed name (ASCII only, which is all the kernels use). */
  name(text: string): this {
    if (!/^[\x20-\x7e]*$/.test(text))
      throw new Error(`wasm names here are ASCII, got ${JSON.stringify(text)}`);
    this.u32(text.length);
    for (let i = 0; i < text.length; i++) this.byte(text.charCodeAt(i));
    return this;
  }
  /** A length-prefixed vector whose items are written by `each`. */
  vec<I>(items: readonly I[], each: (w: ByteWriter, item: I) => void): this {
    this.u32(items.length);
    for (const item of items) each(this, item);
    return this;
  }
}

/** Builds a function body: locals plus instructions, ending in `end`. */
export class CodeWriter extends ByteWriter {
  op(code: number): this {
    return this.byte(code);
  }
  simd(code: number): this {
    return this.byte(SIMD_PREFIX).u32(code);
  }
  /** A load/store memory argument: log2 alignment, then a constant byte offset. */
  memarg(alignLog2: number, offset: number): this {
    return this.u32(alignLog2).u32(offset);
  }
  localGet(index: number): this {
    return this.op(Op.localGet).u32(index);
  }
  localSet(index: number): this {
    return this.op(Op.localSet).u32(index);
  }
  i32Const(value: number): this {
    return this.op(Op.i32Const).s32(value);
  }
  /** `f32.const` (little-endian IEEE 754 single). */
  f32Const(value: number): this {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    this.op(Op.f32Const);
    for (let i = 0; i < 4; i++) this.byte(view.getUint8(i));
    return this;
  }
  /** `v128.load` at `addr + offset` where `addr` is on the stack. */
  v128Load(offset: number): this {
    return this.simd(Simd.v128Load).memarg(4, offset);
  }
  /** `v128.store` of (addr, value) on the stack at `addr + offset`. */
  v128Store(offset: number): this {
    return this.simd(Simd.v128Store).memarg(4, offset);
  }
  /** A 32-bit load broadcast into four lanes. */
  v128Load32Splat(offset: number): this {
    return this.simd(Simd.v128Load32Splat).memarg(2, offset);
  }
  /** `v128.const` with four equal i32 lanes. */
  i32x4Const(value: number): this {
    this.simd(Simd.v128Const);
    for (let lane = 0; lane < 4; lane++) for (let k = 0; k < 4; k++) this.byte((value >>> (8 * k)) & 0xff);
    return this;
  }
  /** Opens a block with no result. */
  block(): this {
    return this.op(Op.block).byte(BLOCK_EMPTY);
  }
  /** Opens a loop with no result. */
  loop(): this {
    return this.op(Op.loop).byte(BLOCK_EMPTY);
  }
  br(depth: number): this {
    return this.op(Op.br).u32(depth);
  }
  brIf(depth: number): this {
    return this.op(Op.br_if).u32(depth);
  }
  end(): this {
    return this.op(Op.end);
  }
}

/** One function of a module. */
export interface FunctionSpec {
  /** Export name. */
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** Extra locals (after the parameters), in order. */
  readonly locals: readonly ValType[];
  /** Instructions, without the final `end` (added here). */
  readonly body: CodeWriter;
}

const SECTION = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;

function section(out: ByteWriter, id: number, content: ByteWriter): void {
  out.byte(id).u32(content.bytes.length).raw(content.bytes);
}

/** Run-length groups of equal local types, as the code section declares them. */
function localGroups(locals: readonly ValType[]): Array<[number, ValType]> {
  const groups: Array<[number, ValType]> = [];
  for (const t of locals) {
    const last = groups[groups.length - 1];
    if (last && last[1] === t) last[0]++;
    else groups.push([1, t]);
  }
  return groups;
}

/**
 * Encodes a module that imports one memory as `env.memory` and exports the given functions, each
 * with its own type.
 */
export function encodeModule(functions: readonly FunctionSpec[]): Uint8Array {
  const out = new ByteWriter().raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

  section(
    out,
    SECTION.type,
    new ByteWriter().vec(functions, (w, f) => {
      w.byte(0x60)
        .vec(f.params, (w2, t) => w2.byte(t))
        .vec(f.results, (w2, t) => w2.byte(t));
    }),
  );
  // Memory limits: minimum 0 pages, no maximum, so any memory the host passes in is accepted.
  section(
    out,
    SECTION.import,
    new ByteWriter().vec([0], (w) => w.name('env').name('memory').byte(0x02).byte(0x00).u32(0)),
  );
  section(
    out,
    SECTION.function,
    new ByteWriter().vec(
      functions.map((_, i) => i),
      (w, typeIndex) => w.u32(typeIndex),
    ),
  );
  section(
    out,
    SECTION.export,
    new ByteWriter().vec(
      functions.map((f, i) => [f.name, i] as const),
      (w, [name, index]) => w.name(name).byte(0x00).u32(index),
    ),
  );
  section(
    out,
    SECTION.code,
    new ByteWriter().vec(functions, (w, f) => {
      const body = new ByteWriter()
        .vec(localGroups(f.locals), (w2, [count, type]) => w2.u32(count).byte(type))
        .raw(f.body.bytes)
        .byte(Op.end);
      w.u32(body.bytes.length).raw(body.bytes);
    }),
  );
  return Uint8Array.from(out.bytes);
}
