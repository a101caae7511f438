/** What the brokers log through; Nest's `Logger` and `console` both fit. */
export interface BrokerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Default logger: console, tagged so broker lines stand out among the app's. */
export function consoleLogger(tag: string): BrokerLogger {
  return {
    log: (m) => console.log(`[${tag}] ${m}`),
    warn: (m) => console.warn(`[${tag}] ${m}`),
    error: (m) => console.error(`[${tag}] ${m}`),
  };
}

/** Consume options are validated once, identically in both brokers. */
export function assertPrefetch(prefetch: number): void {
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65535) {
    throw new RangeError(`prefetch must be an integer from 1 to 65535, got ${prefetch}; pause() the consumer instead of using 0`);
  }
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
