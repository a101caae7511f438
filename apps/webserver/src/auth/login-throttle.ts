/** Keys tracked at most, so a flood of made-up names cannot grow memory without bound. */
const MAX_KEYS = 10_000;

/**
 * Counts failed logins per user name and per client address in a sliding window, and
 * refuses further attempts once either count reaches its limit (until the oldest failure
 * leaves the window). A success clears the user's count. In memory: per webserver process.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: { perUser: number; perIp: number; windowMs: number }) {}

  /** Milliseconds to wait before another attempt for `user` from `ip`, or 0 when one is allowed now. */
  retryAfterMs(user: string, ip: string, now: Date): number {
    return Math.max(this.wait(`u:${user}`, this.limits.perUser, now), this.wait(`ip:${ip}`, this.limits.perIp, now));
  }

  failed(user: string, ip: string, now: Date): void {
    this.add(`u:${user}`, now);
    this.add(`ip:${ip}`, now);
  }

  succeeded(user: string): void {
    this.failures.delete(`u:${user}`);
  }

  private wait(key: string, limit: number, now: Date): number {
    const times = this.recent(key, now);
    return times.length < limit ? 0 : times[times.length - limit] + this.limits.windowMs - now.getTime();
  }

  private recent(key: string, now: Date): number[] {
    const since = now.getTime() - this.limits.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length) this.failures.set(key, times);
    else this.failures.delete(key);
    return times;
  }

  private add(key: string, now: Date): void {
    const times = this.recent(key, now);
    times.push(now.getTime());
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }
}
