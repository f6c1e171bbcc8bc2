import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.js';

describe('WorkQueue', () => {
  it('runs synchronous work at once and throws its errors to the caller', () => {
    const q = new WorkQueue();
    const log: number[] = [];
    q.run(() => void log.push(1));
    expect(log).toEqual([1]);
    expect(q.idle).toBe(true);
    expect(() =>
      q.run(() => {
        throw new Error('compile failed');
      }),
    ).toThrow('compile failed');
    q.run(() => void log.push(2)); // a synchronous error leaves the queue usable
    expect(log).toEqual([1, 2]);
  });

  it('holds later work back until asynchronous work settles, keeping the order', async () => {
    const q = new WorkQueue();
    const log: string[] = [];
    let release!: () => void;
    q.run(() => new Promise<void>((r) => (release = r)).then(() => void log.push('slow')));
    q.run(() => void log.push('after'));
    expect(q.idle).toBe(false);
    expect(log).toEqual([]);
    release();
    await q.flush();
    expect(log).toEqual(['slow', 'after']);
    expect(q.idle).toBe(true);
  });

  it('makes an asynchronous failure sticky: later work does not run and every call reports it', async () => {
    const q = new WorkQueue();
    const log: string[] = [];
    q.run(() => Promise.reject(new Error('device lost')));
    q.run(() => void log.push('never'));
    await expect(q.flush()).rejects.toThrow('device lost');
    expect(log).toEqual([]);
    expect(q.failed).toBe(true);
    expect(() => q.run(() => void log.push('never'))).toThrow('device lost');
    await expect(q.flush()).rejects.toThrow('device lost');
  });
});
