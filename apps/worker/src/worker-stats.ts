import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a worker's heartbeat says about its work since it started: `worker show` prints it. */
export class WorkerTally {
  private processedTries = 0;
  private failedTries = 0;
  private readonly startedAt = performance.now();

  /** One try reported finished (or refused) with this outcome. */
  finished(outcome: 'success' | 'failed' | 'skipped'): void {
    this.processedTries += 1;
    if (outcome === 'failed') this.failedTries += 1;
  }

  get processed(): number {
    return this.processedTries;
  }

  get failed(): number {
    return this.failedTries;
  }

  /** Monotonic: a changed wall clock does not change it. */
  uptimeMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }
}

/** Unsettled task messages per queue topic, from the tries a worker holds. */
export function unackedByQueue(held: Iterable<{ queue: string; settled: boolean }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { queue, settled } of held) {
    if (!settled) counts[queue] = (counts[queue] ?? 0) + 1;
  }
  return counts;
}

let cachedVersion: string | undefined;

/** The version in Swarmflow's package.json (found walking up from this file); `0.0.0` when there is none. */
export function swarmflowVersion(from: string = __dirname): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'swarmflow' && pkg.version) return (cachedVersion = pkg.version);
    }
    if (dirname(dir) === dir) return (cachedVersion = '0.0.0');
  }
}
