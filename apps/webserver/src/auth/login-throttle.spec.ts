import { LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  const t0 = new Date('2025-01-01T00:00:00Z');
  const at = (ms: number) => new Date(t0.getTime() + ms);

  it('refuses a user after its limit of failures until the oldest leaves the window', () => {
    const throttle = new LoginThrottle({ perUser: 3, perIp: 100, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterMs('alice', '10.0.0.1', at(i * 1000))).toBe(0);
      throttle.failed('alice', '10.0.0.1', at(i * 1000));
    }
    expect(throttle.retryAfterMs('alice', '10.0.0.2', at(3000))).toBe(57_000);
    expect(throttle.retryAfterMs('bob', '10.0.0.1', at(3000))).toBe(0);
    expect(throttle.retryAfterMs('alice', '10.0.0.1', at(60_001))).toBe(0);
  });

  it('refuses an address that tries many names', () => {
    const throttle = new LoginThrottle({ perUser: 100, perIp: 2, windowMs: 60_000 });
    throttle.failed('a', '10.0.0.9', t0);
    throttle.failed('b', '10.0.0.9', t0);
    expect(throttle.retryAfterMs('c', '10.0.0.9', t0)).toBe(60_000);
    expect(throttle.retryAfterMs('c', '10.0.0.8', t0)).toBe(0);
  });

  it('forgets the failures of a user once it logs in', () => {
    const throttle = new LoginThrottle({ perUser: 1, perIp: 100, windowMs: 60_000 });
    throttle.failed('alice', 'ip', t0);
    expect(throttle.retryAfterMs('alice', 'ip', t0)).toBeGreaterThan(0);
    throttle.succeeded('alice');
    expect(throttle.retryAfterMs('alice', 'ip', t0)).toBe(0);
  });
});
