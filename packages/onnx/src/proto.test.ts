import { describe, expect, it } from 'vitest';
import { ProtoWriter } from './proto.js';

const bytes = (w: ProtoWriter) => Array.from(w.finish());

// Expected bytes follow the protobuf wire format: key = field·8 + wire type, then the payload.
describe('ProtoWriter', () => {
  it('writes varints with 7 bits per byte, low bits first', () => {
    expect(bytes(new ProtoWriter().int(1, 150))).toEqual([0x08, 0x96, 0x01]);
    expect(bytes(new ProtoWriter().int(2, 0))).toEqual([0x10, 0x00]);
    expect(bytes(new ProtoWriter().int(1, 300))).toEqual([0x08, 0xac, 0x02]);
    expect(bytes(new ProtoWriter().int(1, 2 ** 40))).toEqual([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  });

  it('writes negative integers as 10-byte two’s complement', () => {
    expect(bytes(new ProtoWriter().int(1, -1))).toEqual([0x08, ...Array(9).fill(0xff), 0x01]);
  });

  it('writes keys of large field numbers as varints', () => {
    // AttributeProto.type is field 20: key 20·8 + 0 = 160.
    expect(bytes(new ProtoWriter().int(20, 2))).toEqual([0xa0, 0x01, 0x02]);
  });

  it('writes floats as little-endian fixed32', () => {
    expect(bytes(new ProtoWriter().float(2, 1))).toEqual([0x15, 0x00, 0x00, 0x80, 0x3f]);
  });

  it('writes strings, nested messages and packed ints length-delimited', () => {
    expect(bytes(new ProtoWriter().string(2, 'testing'))).toEqual([
      0x12,
      0x07,
      ...new TextEncoder().encode('testing'),
    ]);
    expect(bytes(new ProtoWriter().message(3, (m) => m.int(1, 150)))).toEqual([0x1a, 0x03, 0x08, 0x96, 0x01]);
    expect(bytes(new ProtoWriter().packedInts(4, [3, 270, 86942]))).toEqual([
      0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05,
    ]);
  });

  it('keeps fields in the order they were written around large payloads', () => {
    const payload = new Uint8Array(1000).fill(7);
    const out = new ProtoWriter().int(1, 1).bytes(2, payload).int(3, 2).finish();
    expect(out.length).toBe(2 + 3 + 1000 + 2);
    expect(Array.from(out.subarray(0, 5))).toEqual([0x08, 0x01, 0x12, 0xe8, 0x07]);
    expect(out[5]).toBe(7);
    expect(Array.from(out.subarray(1005))).toEqual([0x18, 0x02]);
  });
});
