import { describe, expect, it } from 'vitest';
import { formatLr, formatNumber, formatTable } from './console.js';

describe('terminal formatting', () => {
  it('names grid points as powers of two, also after rounding to 6 digits', () => {
    expect(formatLr(0.25)).toBe('2^-2');
    expect(formatLr(2 ** -8.5)).toBe('2^-8.5');
    expect(formatLr(+(2 ** -8.5).toPrecision(6))).toBe('2^-8.5');
    expect(formatLr(0.003)).toBe('0.003');
  });

  it('formats numbers compactly', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(1234567)).toBe('1.23e+6');
    expect(formatNumber(0)).toBe('0');
  });

  it('aligns tables, numbers to the right', () => {
    const text = formatTable(
      ['name', 'value'],
      [
        ['a', 1.5],
        ['long name', 10],
      ],
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toBe('a            1.5');
    expect(lines[3]).toBe('long name     10');
  });
});
