import { afterFailure, retryDelayMs } from './retry';

describe('retryDelayMs', () => {
  const fixed = { retryDelayMs: 30_000, retryBackoff: 'fixed' as const, maxRetryDelayMs: 3_600_000 };
  const exponential = { ...fixed, retryBackoff: 'exponential' as const, maxRetryDelayMs: 300_000 };

  it.each([[1, 30_000], [2, 30_000], [10, 30_000]])('fixed: after try %d waits %d ms', (tryNumber, ms) => {
    expect(retryDelayMs(fixed, tryNumber)).toBe(ms);
  });

  it.each([[1, 30_000], [2, 60_000], [3, 120_000], [4, 240_000], [5, 300_000], [50, 300_000], [2000, 300_000]])(
    'exponential: after try %d waits %d ms (capped at maxRetryDelayMs)',
    (tryNumber, ms) => {
      expect(retryDelayMs(exponential, tryNumber)).toBe(ms);
    },
  );

  it('exponential with a zero delay stays zero', () => {
    expect(retryDelayMs({ ...exponential, retryDelayMs: 0 }, 2000)).toBe(0);
  });
});

describe('afterFailure', () => {
  it('retries while the failed try is within retries, then fails', () => {
    expect([1, 2, 3].map((n) => afterFailure({ retries: 2 }, n))).toEqual(['up_for_retry', 'up_for_retry', 'failed']);
  });

  it('fails at once with no retries', () => {
    expect(afterFailure({ retries: 0 }, 1)).toBe('failed');
  });
});
