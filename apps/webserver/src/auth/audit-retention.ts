import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Repositories } from '@swarmflow/persistence';
import { AUDIT_RETENTION, CLOCK, REPOSITORIES, type Clock } from '../tokens';

/** How long audit entries are kept (SWARMFLOW_AUDIT_RETENTION) and how they are pruned. */
export interface AuditRetentionOptions {
  /** Entries older than this are deleted; null keeps them all. */
  retentionMs: number | null;
  /** How often to prune (default hourly; the first prune runs at start). */
  intervalMs?: number;
  /** Entries deleted per statement (default 5,000): short transactions, no long lock. */
  batchSize?: number;
}

export const DEFAULT_AUDIT_RETENTION_MS = 90 * 24 * 3600 * 1000;
const DEFAULT_INTERVAL_MS = 3600 * 1000;
const DEFAULT_BATCH = 5000;

/**
 * Deletes audit entries past the retention, at start and then periodically, in batches.
 * Several webservers may prune at once: a batch another one deleted first is a no-op.
 */
@Injectable()
export class AuditRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_RETENTION) private readonly options: AuditRetentionOptions | null,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options?.retentionMs == null) return;
    void this.prune();
    this.timer = setInterval(() => void this.prune(), this.options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => 0);
  }

  /** Deletes every entry older than the retention, batch by batch; returns how many (0 when retention is off). Never throws. */
  prune(): Promise<number> {
    if (this.options?.retentionMs == null) return Promise.resolve(0);
    this.running ??= this.pruneBatches(this.options.retentionMs).finally(() => { this.running = null; });
    return this.running;
  }

  private async pruneBatches(retentionMs: number): Promise<number> {
    const before = new Date(this.clock().getTime() - retentionMs);
    const batch = this.options?.batchSize ?? DEFAULT_BATCH;
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.repos.audit.prune(before, batch);
        total += deleted;
        if (deleted < batch) break;
      }
      if (total > 0) this.logger.log(`pruned ${total} audit entries older than ${before.toISOString()} (SWARMFLOW_AUDIT_RETENTION)`);
    } catch (err) {
      this.logger.warn(`could not prune the audit log (${total} entries deleted so far): ${(err as Error).message}; trying again in the next round`);
    }
    return total;
  }
}
