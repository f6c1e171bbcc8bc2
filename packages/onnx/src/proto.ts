/**
 * A minimal protocol-buffers writer: just what an ONNX `ModelProto` needs (varints, 64-bit ints as
 * varints, fixed32 floats, length-delimited strings, bytes and nested messages, packed repeated
 * fields). Messages are built bottom-up: each nested message is encoded to bytes first.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

/** Accumulates the encoded fields of one message. */
export class ProtoWriter {
  private chunks: number[] = [];
  private blobs: Array<{ at: number; bytes: Uint8Array }> = [];
  private blobBytes = 0;

  /** An integer field (int32, int64, enum, bool): a varint; negative values take 10 bytes. */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** A `float` field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    for (const b of bytes) this.chunks.push(b);
    return this;
  }

  /** A UTF-8 `string` field. */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** A `bytes` field, or a nested message already encoded with {@link ProtoWriter.finish}. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(value.length);
    // Large payloads are kept as references and joined once in finish().
    this.blobs.push({ at: this.chunks.length, bytes: value });
    this.blobBytes += value.length;
    return this;
  }

  /** A nested message. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** A packed repeated integer field (`repeated int64 dims`, `ints`). */
  packedInts(field: number, values: ReadonlyArray<number | bigint>): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.length + this.blobBytes);
    let from = 0;
    let to = 0;
    for (const { at, bytes } of this.blobs) {
      for (; from < at; from++) out[to++] = this.chunks[from];
      out.set(bytes, to);
      to += bytes.length;
    }
    for (; from < this.chunks.length; from++) out[to++] = this.chunks[from];
    return out;
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  private varint(value: number | bigint): void {
    // Two's complement over 64 bits, as protobuf encodes negative int64/int32 values.
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.chunks.push(byte);
    } while (v !== 0n);
  }
}
