import { describe, expect, it } from '@jest/globals';
import { formatDuration } from './duration';

describe('formatDuration', () => {
  it('shows milliseconds under a second, and nothing negative', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(0.4)).toBe('0 ms');
    expect(formatDuration(400)).toBe('400 ms');
    expect(formatDuration(999.4)).toBe('999 ms');
    expect(formatDuration(-5000)).toBe('0 ms');
    expect(formatDuration(Number.NaN)).toBe('0 ms');
  });

  it('rounds up into the next unit instead of showing 60 of the smaller one', () => {
    expect(formatDuration(999.6)).toBe('1.0 s');
    expect(formatDuration(9_960)).toBe('10 s');
    expect(formatDuration(59_600)).toBe('1m 0s');
    expect(formatDuration(119_600)).toBe('2m 0s');
    expect(formatDuration(3_599_600)).toBe('1h 0m');
    expect(formatDuration(3_629_999)).toBe('1h 0m');
    expect(formatDuration(86_370_000)).toBe('1d 0h');
  });

  it('splits into its two largest units, seconds to days', () => {
    expect(formatDuration(400 + 1000 * 4)).toBe('4.4 s');
    expect(formatDuration(42_400)).toBe('42 s');
    expect(formatDuration(59_400)).toBe('59 s');
    expect(formatDuration(119_400)).toBe('1m 59s');
    expect(formatDuration(3_599_400)).toBe('59m 59s');
    expect(formatDuration((4 * 3600 + 2 * 60 + 20) * 1000)).toBe('4h 2m');
    expect(formatDuration((2 * 86_400 + 5 * 3600 + 20 * 60) * 1000)).toBe('2d 5h');
    expect(formatDuration(30 * 86_400_000)).toBe('30d 0h');
  });
});
