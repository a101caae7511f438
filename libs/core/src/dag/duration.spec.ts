import { InvalidDurationError } from '../errors';
import { errorOf } from '../test-support/error-of';
import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['2h', 7_200_000], ['1d', 86_400_000],
    ['1h30m', 5_400_000], ['1.5s', 1_500], [' 10s ', 10_000], ['0s', 0],
    [0, 0], [250, 250], [1.4, 1],
  ])('%j -> %d ms', (value, ms) => {
    expect(parseDuration(value, 'timeout')).toBe(ms);
  });

  it.each([
    ['30', `timeout is not a duration (got "30"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['3x', `timeout is not a duration (got "3x"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['', `timeout is not a duration (got ""). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['-5s', `timeout is not a duration (got "-5s"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    [-1, `timeout must be a non-negative number of milliseconds (got -1). Fix: use e.g. 30000 or '30s'.`],
    [Number.NaN, `timeout must be a non-negative number of milliseconds (got NaN). Fix: use e.g. 30000 or '30s'.`],
    [true, `timeout must be a duration like '30s' (got true). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
  ])('rejects %j', (value, message) => {
    const err = errorOf<InvalidDurationError>(() => parseDuration(value as string, 'timeout'));
    expect(err).toBeInstanceOf(InvalidDurationError);
    expect(err.message).toBe(message);
    expect(err.field).toBe('timeout');
    expect(err.value).toBe(value);
  });
});
