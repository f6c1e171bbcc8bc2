/**
 * Just enough of the WebAssembly binary format for the kernels in `wasm-simd.ts`: one function
 * type per function, one imported memory (`env.memory`), exported functions, MVP and 128-bit SIMD
 * instructions.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** MVP opcodes used here. */
export const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32GeU: 0x4f,
  f32Eq: 0x5b,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const simd = {
  v128Load: 0x00,
  v128Store: 0x0b,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

/** A growable byte buffer with the format's integer encodings. */
export class Bytes {
  readonly data: number[] = [];

  byte(...values: number[]): this {
    this.data.push(...values);
    return this;
  }
  /** Unsigned LEB128. */
  u32(value: number): this {
    let v = value >>> 0;
    do {
      const b = v & 0x7f;
      v >>>= 7;
      this.data.push(v ? b | 0x80 : b);
    } while (v);
    return this;
  }
  /** Signed LEB128. */
  s32(value: number): this {
    let v = value | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40);
      this.data.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  f32(value: number): this {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.data.push(view.getUint8(i));
    return this;
  }
  name(text: string): this {
    const encoded = new TextEncoder().encode(text);
    this.u32(encoded.length);
    this.data.push(...encoded);
    return this;
  }
  vector(items: readonly Bytes[]): this {
    this.u32(items.length);
    for (const item of items) this.data.push(...item.data);
    return this;
  }
  /** A section or function body: its byte size, then its content. */
  sized(content: Bytes): this {
    this.u32(content.data.length);
    this.data.push(...content.data);
    return this;
  }
}

/** Instruction helpers over {@link Bytes}. */
export class Code extends Bytes {
  get(local: number): this {
    return this.byte(op.localGet).u32(local);
  }
  set(local: number): this {
    return this.byte(op.localSet).u32(local);
  }
  i32(value: number): this {
    return this.byte(op.i32Const).s32(value);
  }
  simd(opcode: number): this {
    return this.byte(0xfd).u32(opcode);
  }
  /** A memory access: alignment hint (log2 bytes) and constant offset. */
  memarg(alignLog2: number, offset = 0): this {
    return this.u32(alignLog2).u32(offset);
  }
}

/** One exported function. Locals beyond the parameters are listed by type. */
export interface FunctionSpec {
  name: string;
  params: readonly ValueType[];
  results: readonly ValueType[];
  locals: readonly ValueType[];
  body: Code;
}

/** Encodes a module that imports `env.memory` and exports the given functions. */
export function encodeModule(functions: readonly FunctionSpec[]): Uint8Array {
  const out = new Bytes().byte(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const section = (id: number, content: Bytes) => out.byte(id).sized(content);
  section(
    1,
    new Bytes().vector(
      functions.map((f) =>
        new Bytes()
          .byte(0x60)
          .u32(f.params.length)
          .byte(...f.params)
          .u32(f.results.length)
          .byte(...f.results),
      ),
    ),
  );
  section(2, new Bytes().u32(1).name('env').name('memory').byte(0x02, 0x00).u32(1));
  section(3, new Bytes().vector(functions.map((_, i) => new Bytes().u32(i))));
  section(7, new Bytes().vector(functions.map((f, i) => new Bytes().name(f.name).byte(0x00).u32(i))));
  section(
    10,
    new Bytes().vector(
      functions.map((f) => {
        const body = new Bytes().vector(f.locals.map((t) => new Bytes().u32(1).byte(t)));
        body.data.push(...f.body.data, op.end);
        return new Bytes().sized(body);
      }),
    ),
  );
  return Uint8Array.from(out.data);
}
