import { describe, expect, it } from 'vitest';
import {
  judgeSamples,
  NOISY_RULES,
  releasedVerdict,
  runLoop,
  type Sample,
  samplePositions,
  steadyStart,
} from './loop.js';
import { judge, slope } from './verdict.js';

const MiB = 1024 * 1024;
const positions = samplePositions(10_000, 20);
const at = positions;

/** Deterministic noise in [-1, 1]. */
const wobble = (i: number) => Math.sin(i * 12.9898) * 0.9 + ((i * 7) % 3) * 0.05;

describe('exact counters', () => {
  const rule = { kind: 'exact' } as const;

  it('pass when every steady-state sample equals the first one', () => {
    const values = at.map((_, i) => (i < 2 ? 4 + i : 8)); // changes only during warm-up
    const v = judge('numTensors', rule, { at, values }, 2);
    expect(v.pass).toBe(true);
    expect(v.reference).toBe(8);
    expect(v.final).toBe(8);
  });

  it('fail on a single extra tensor after warm-up, naming where it appeared', () => {
    const values = at.map((p) => (p >= 7_000 ? 9 : 8));
    const v = judge('numTensors', rule, { at, values }, 2);
    expect(v.pass).toBe(false);
    expect(v.reason).toBe('was 8 at 1000, 9 at 7000 (final 9)');
  });

  it('fail when the counter goes down and back up (any change is a change)', () => {
    const values = at.map((p) => (p === 5_000 ? 7 : 8));
    expect(judge('numBytes', rule, { at, values }, 2).pass).toBe(false);
  });

  it('fail when a sample is missing (NaN)', () => {
    const values = at.map((p) => (p === 9_000 ? Number.NaN : 8));
    const v = judge('liveSessions', rule, { at, values }, 2);
    expect(v.pass).toBe(false);
    expect(v.reason).toMatch(/not a finite number/);
  });
});

describe('noisy measurements', () => {
  const rss = NOISY_RULES.rss;
  const heap = NOISY_RULES.heapUsed;

  it('a flat series with noise passes (RSS ±12 MiB around 200 MiB, heap ±0.4 MiB around 50 MiB)', () => {
    const rssValues = at.map((_, i) => 200 * MiB + 12 * MiB * wobble(i));
    const heapValues = at.map((_, i) => 50 * MiB + 0.4 * MiB * wobble(i + 5));
    expect(judge('rss', rss, { at, values: rssValues }, 2).pass).toBe(true);
    expect(judge('heapUsed', heap, { at, values: heapValues }, 2).pass).toBe(true);
  });

  it('a series that only grew during warm-up passes', () => {
    const values = at.map((_, i) => (i < 2 ? 100 * MiB + i * 30 * MiB : 160 * MiB + MiB * wobble(i)));
    expect(judge('rss', rss, { at, values }, 2).pass).toBe(true);
  });

  it('a steady leak over 10,000 steps fails: 4 KiB per step in RSS, 1 KiB per step in the heap', () => {
    const rssValues = at.map((p, i) => 200 * MiB + 4096 * p + 2 * MiB * wobble(i));
    const heapValues = at.map((p, i) => 50 * MiB + 1024 * p + 0.3 * MiB * wobble(i));
    const r = judge('rss', rss, { at, values: rssValues }, 2);
    const h = judge('heapUsed', heap, { at, values: heapValues }, 2);
    expect(r.pass).toBe(false);
    expect(h.pass).toBe(false);
    expect(r.slopePerUnit).toBeGreaterThan(3900);
    expect(r.slopePerUnit).toBeLessThan(4300);
    expect(h.slopePerUnit).toBeGreaterThan(950);
    expect(h.slopePerUnit).toBeLessThan(1100);
    expect(r.reason).toMatch(/^final [\d.]+ > limit \d+ \(reference/);
  });

  it('a single late spike does not fail (medians of 3 samples at each end), two late samples do', () => {
    const spike = at.map((_, i) => (i === at.length - 1 ? 400 * MiB : 200 * MiB));
    expect(judge('rss', rss, { at, values: spike }, 2).pass).toBe(true);
    const risen = at.map((_, i) => (i >= at.length - 2 ? 400 * MiB : 200 * MiB));
    expect(judge('rss', rss, { at, values: risen }, 2).pass).toBe(false);
  });

  it('the limit is reference × (1 + ratio) + bytes', () => {
    const values = at.map(() => 100 * MiB);
    const v = judge('x', { kind: 'noisy', tolerance: { ratio: 0.1, bytes: MiB } }, { at, values }, 2);
    expect(v.limit).toBe(111 * MiB);
    const over = values.map((x, i) => (i >= at.length - 3 ? 111 * MiB + 1 : x));
    expect(
      judge('x', { kind: 'noisy', tolerance: { ratio: 0.1, bytes: MiB } }, { at, values: over }, 2).pass,
    ).toBe(false);
  });
});

describe('sampling plan', () => {
  it('samples 0 and the ends of 20 equal intervals; steady state starts at 10%', () => {
    expect(positions).toHaveLength(21);
    expect(positions.slice(0, 3)).toEqual([0, 500, 1_000]);
    expect(positions.at(-1)).toBe(10_000);
    expect(steadyStart(positions, 1_000)).toBe(2);
  });

  it('short loops sample every iteration and still leave two samples to judge', () => {
    expect(samplePositions(5, 20)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(steadyStart(samplePositions(5, 20), 1)).toBe(1);
    expect(steadyStart([0, 1, 2], 100)).toBe(1);
    expect(() => steadyStart([0, 1], 0)).toThrow(/too few/);
  });

  it('refuses to judge with fewer than two steady-state samples', () => {
    expect(() => judge('x', { kind: 'exact' }, { at: [0, 1, 2], values: [1, 1, 1] }, 2)).toThrow(
      /fewer than 2/,
    );
  });

  it('slope is the least-squares growth per unit', () => {
    expect(slope([0, 1, 2, 3], [5, 7, 9, 11])).toBeCloseTo(2, 12);
    expect(slope([0, 1, 2, 3], [5, 5, 5, 5])).toBe(0);
  });
});

describe('judging samples and releases', () => {
  const sample = (p: number, counters: Record<string, number>): Sample => ({
    at: p,
    elapsedMs: p,
    rss: 100 * MiB,
    heapUsed: 20 * MiB,
    heapTotal: 30 * MiB,
    external: 4 * MiB,
    arrayBuffers: MiB,
    counters,
  });

  it('judges the four memory readings and every counter; a counter absent from a sample fails', () => {
    const samples = [0, 1, 2, 3, 4].map((p) => sample(p, p === 3 ? {} : { numTensors: 8 }));
    const verdicts = judgeSamples(samples, 1);
    expect(verdicts.map((v) => v.metric)).toEqual([
      'rss',
      'heapUsed',
      'external',
      'arrayBuffers',
      'numTensors',
    ]);
    expect(verdicts.filter((v) => !v.pass).map((v) => v.metric)).toEqual(['numTensors']);
  });

  it('a resource not released after dispose fails', () => {
    expect(releasedVerdict('numTensors', 0, 0).pass).toBe(true);
    expect(releasedVerdict('numTensors', 0, 2)).toMatchObject({
      pass: false,
      metric: 'numTensors after dispose',
      reason: '0 before the phase, 2 after disposing everything',
    });
  });
});

describe('runLoop, measured', () => {
  it('catches a loop that keeps 64 KiB per iteration (heap/external/arrayBuffers) and a growing counter', async () => {
    const kept: Float64Array[] = [];
    let handles = 0;
    const phase = await runLoop({
      name: 'leaky',
      unit: 'step',
      total: 400,
      counters: () => ({ handles }),
      body() {
        kept.push(new Float64Array(8_192));
        handles++;
      },
    });
    expect(phase.samples).toHaveLength(21);
    expect(phase.pass).toBe(false);
    const failed = phase.verdicts.filter((v) => !v.pass).map((v) => v.metric);
    expect(failed).toContain('arrayBuffers');
    expect(failed).toContain('handles');
    expect(kept).toHaveLength(400);
  });

  it('runs the periodic hook once per interval, before each sample after the first', async () => {
    const calls: number[] = [];
    let i = 0;
    const phase = await runLoop({
      name: 'flat',
      unit: 'step',
      total: 40,
      intervals: 4,
      counters: () => ({ calls: calls.length }),
      body() {
        i++;
      },
      periodic() {
        calls.push(i);
      },
    });
    expect(calls).toEqual([10, 20, 30, 40]);
    expect(phase.samples.map((s) => s.counters.calls)).toEqual([0, 1, 2, 3, 4]);
    expect(phase.verdicts.find((v) => v.metric === 'calls')?.pass).toBe(false);
  });
});
