import { RequestValidationError } from '../http/zod-validation.pipe';
import { parseSince } from '../http/audit.controller';
import { parseTokenLifetime, roleShortfall } from './accounts';
import { looksLikeApiToken, newApiToken, sameSecret, sha256 } from './credentials';

describe('API tokens', () => {
  it('are sfw_ and 256 random bits, shown by their first 12 characters, stored as SHA-256', () => {
    const a = newApiToken();
    const b = newApiToken();
    expect(a.secret).toMatch(/^sfw_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeApiToken(a.secret)).toBe(true);
    expect(a.secret).not.toBe(b.secret);
    expect(a.prefix).toBe(a.secret.slice(0, 12));
    expect(a.hash).toBe(sha256(a.secret));
    expect(looksLikeApiToken('ghp_abc')).toBe(false);
  });

  it('compares secrets whatever their lengths', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abcd')).toBe(false);
  });
});

describe('parseTokenLifetime', () => {
  it('reads durations and never', () => {
    expect(parseTokenLifetime('90d', 'expiresIn')).toBe(90 * 86_400_000);
    expect(parseTokenLifetime('never', 'expiresIn')).toBeNull();
    expect(parseTokenLifetime(undefined, 'expiresIn')).toBeNull();
  });

  it('names the field of a bad one', () => {
    expect(() => parseTokenLifetime('soon', '--expires')).toThrow(new RequestValidationError('--expires', 'must be a duration such as 90d, 12h or 30m, or "never" (got "soon")'));
    expect(() => parseTokenLifetime('5s', 'expiresIn')).toThrow('expiresIn: must be between 1m and 3650d');
  });
});

describe('roleShortfall', () => {
  it('names the role needed and the one held', () => {
    expect(roleShortfall('viewer', 'operator')).toBe('needs role operator; you are viewer');
    expect(roleShortfall('admin', 'operator')).toBeNull();
  });
});

describe('parseSince', () => {
  const now = new Date('2025-01-02T00:00:00Z');
  it('reads a duration back from now or a timestamp', () => {
    expect(parseSince('1h', now)).toEqual(new Date('2025-01-01T23:00:00Z'));
    expect(parseSince('2024-12-31T00:00:00Z', now)).toEqual(new Date('2024-12-31T00:00:00Z'));
    expect(() => parseSince('last week', now)).toThrow('since: must be a duration back from now');
  });
});
