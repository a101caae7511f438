import { InvalidMemoryError } from '../errors';

// Docker's units: binary multiples, case-insensitive, an optional trailing `b` / `ib`.
const UNIT_BYTES: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const MEMORY = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?$/i;
const FIX = `use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes`;

/**
 * Reads a memory setting: a whole number of bytes, or a string `<number><unit>` with unit
 * `b`, `k`, `m`, `g` or `t` (binary multiples as in `docker run --memory`; case-insensitive,
 * `512mb` / `512MiB` also read), e.g. `'512m'`, `'1.5g'`, `'30g'`. Returns whole bytes
 * (fractions rounded down), always more than 0.
 *
 * @throws InvalidMemoryError naming `field`.
 */
export function parseMemory(value: string | number, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidMemoryError(field, value, `must be a whole number of bytes > 0 (got ${value})`, FIX);
    }
    return value;
  }
  if (typeof value !== 'string') {
    throw new InvalidMemoryError(field, value, `must be a size like '512m' (got ${JSON.stringify(value) ?? String(value)})`, FIX);
  }
  const match = MEMORY.exec(value.trim());
  if (!match) throw new InvalidMemoryError(field, value, `is not a memory size (got "${value}")`, FIX);
  const bytes = Math.floor(Number(match[1]) * UNIT_BYTES[(match[2] ?? match[3] ?? '').toLowerCase()]);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidMemoryError(field, value, `must be more than 0 bytes and at most ${Number.MAX_SAFE_INTEGER} (got "${value}")`, FIX);
  }
  return bytes;
}
