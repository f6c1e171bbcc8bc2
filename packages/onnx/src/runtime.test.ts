import { describe, expect, it } from 'vitest';
import { createSession, type OrtModule } from './runtime.js';

describe('createSession', () => {
  it('creates one session at a time per runtime (onnxruntime-web cannot create two WebGPU sessions at once)', async () => {
    let inFlight = 0;
    let overlapped = false;
    const order: string[] = [];
    const InferenceSession = {
      async create(_bytes: Uint8Array, options: { tag: string }) {
        inFlight++;
        overlapped ||= inFlight > 1;
        order.push(`start ${options.tag}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(`end ${options.tag}`);
        inFlight--;
        if (options.tag === 'b') throw new Error('no provider');
        return { tag: options.tag };
      },
    };
    const ort = { InferenceSession } as unknown as OrtModule;
    const model = new Uint8Array([1]);
    const results = await Promise.allSettled(
      ['a', 'b', 'c'].map((tag) => createSession(ort, model, { tag } as never, 'X')),
    );
    expect(overlapped).toBe(false);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    // A failed creation is reported (naming the caller) and does not block the next one.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(
      /X: ONNX Runtime could not create a session.*no provider/,
    );
  });
});
