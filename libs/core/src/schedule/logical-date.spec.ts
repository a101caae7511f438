import { LogicalDateInFutureError } from '../errors';
import { checkManualLogicalDate, LOGICAL_DATE_FUTURE_TOLERANCE_MS } from './logical-date';

describe('checkManualLogicalDate', () => {
  const now = new Date('2025-03-01T12:00:00.000Z');
  const at = (ms: number) => new Date(now.getTime() + ms);

  it('accepts a date up to now, and up to the clock-skew tolerance later', () => {
    for (const date of [new Date('2020-01-01T00:00:00Z'), now, at(LOGICAL_DATE_FUTURE_TOLERANCE_MS)]) {
      expect(() => checkManualLogicalDate(date, now)).not.toThrow();
    }
  });

  it('refuses a later date, naming the field, the server time and the fix', () => {
    const err = (() => {
      try {
        checkManualLogicalDate(at(LOGICAL_DATE_FUTURE_TOLERANCE_MS + 1), now);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(LogicalDateInFutureError);
    expect(err).toMatchObject({ field: 'logicalDate', logicalDate: at(60_001), now });
    expect((err as Error).message).toBe('logicalDate 2025-03-01T12:01:00.001Z is in the future: the server\'s time is 2025-03-01T12:00:00.000Z ' +
      '(clocks may differ by 60s). A run\'s logical date is the start of the data it processes, so a manual run cannot be triggered ' +
      'for a later date. Fix: pick a logical date up to now, or leave it out to use the current time.');
  });
});
