import { InvalidDurationError } from '../errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/**
 * Reads a duration setting: a number of milliseconds, or a string of one or more
 * `<number><unit>` parts with unit `ms`, `s`, `m`, `h` or `d` (`'500ms'`, `'30s'`, `'1h30m'`).
 * Returns whole milliseconds. Throws {@link InvalidDurationError} naming `field`.
 */
export function parseDuration(value: string | number, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidDurationError(field, value, `must be a non-negative number of milliseconds (got ${value})`, `use e.g. 30000 or '30s'`);
    }
    return Math.round(value);
  }
  if (typeof value !== 'string') {
    throw new InvalidDurationError(field, value, `must be a duration like '30s' (got ${JSON.stringify(value) ?? String(value)})`, `use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds`);
  }
  const text = value.trim();
  if (!WHOLE.test(text)) {
    throw new InvalidDurationError(field, value, `is not a duration (got "${value}")`, `use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds`);
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit];
  return Math.round(ms);
}
