import { MAX_RECONNECT_DELAY_MS, reconnectDelay } from './amqp-broker';

describe('reconnectDelay', () => {
  it('doubles from the first delay and stops at 2 s, so a process is back within about 2 s of the broker', () => {
    const top = (attempt: number) => reconnectDelay(attempt, 500, () => 0.999999);
    expect([0, 1, 2, 3, 10, 100].map((a) => Math.round(top(a)))).toEqual([500, 1000, 2000, 2000, 2000, 2000]);
    expect(MAX_RECONNECT_DELAY_MS).toBe(2000);
  });

  it('jitters each delay down to half, so processes cut off together do not all come back at once', () => {
    expect(reconnectDelay(5, 500, () => 0)).toBe(1000);
    expect(reconnectDelay(5, 500, () => 0.5)).toBe(1500);
  });
});
