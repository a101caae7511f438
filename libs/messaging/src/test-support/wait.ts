import type { BrokerMessage, MessageHandler } from '../broker';

/**
 * The default wait: long, because a wait ends as soon as its condition holds and its limit only
 * names a failure. A limit of a few seconds is a speed check in disguise, which a loaded CI
 * machine (several test runs on 2 cores) fails; speed is for benchmarks, which print.
 */
export const DEFAULT_WAIT_MS = 30_000;

/**
 * Polls `probe` (sync or async) every `intervalMs` until it returns a truthy value,
 * then returns that value; rejects after `timeoutMs` naming `what`. For states that
 * cannot be awaited as events, such as RabbitMQ queue counters.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | Promise<T>,
  { timeoutMs = DEFAULT_WAIT_MS, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Rejects with a message naming `what` when `promise` does not settle within `timeoutMs`. */
export function withTimeout<T>(what: string | (() => string), promise: Promise<T>, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const describe = () => (typeof what === 'string' ? what : what());
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Records deliveries and lets a test await the n-th one. `onMessage` decides what to
 * do with each message (default: leave it unacked, so the test controls acks).
 */
export class Inbox<T = unknown> {
  readonly messages: BrokerMessage<T>[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  /** What to do with each delivery; may be swapped mid-test. Default: leave it unacked. */
  constructor(public onMessage: (msg: BrokerMessage<T>, inbox: Inbox<T>) => void | Promise<void> = () => undefined) {}

  readonly handler: MessageHandler<T> = (msg) => {
    this.messages.push(msg);
    this.waiters = this.waiters.filter((w) => {
      if (this.messages.length < w.count) return true;
      w.resolve();
      return false;
    });
    return this.onMessage(msg, this);
  };

  get bodies(): T[] {
    return this.messages.map((m) => m.body);
  }

  /** Resolves with all messages once at least `count` arrived. */
  async waitFor(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<BrokerMessage<T>[]> {
    if (this.messages.length < count) {
      const arrived = new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
      await withTimeout(() => `${count} deliveries (got ${this.messages.length})`, arrived, timeoutMs);
    }
    return this.messages;
  }
}
