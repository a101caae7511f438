import type { Database } from '../database';

/** Counts the metrics endpoint reads at scrape time. */
export interface ClusterCounts {
  /** Unfinished task instances (none, scheduled, queued, running, up_for_retry) by state and queue. */
  taskInstances: { state: string; queue: string; count: number }[];
  workers: { state: string; count: number }[];
  /** Outbox rows not yet published (deleted once the broker confirmed them). */
  outboxBacklog: number;
  importErrors: number;
  /** Queue topics with unfinished task instances or a live worker: the ones whose depth is worth asking. */
  queues: string[];
}

/**
 * Aggregate reads for the metrics endpoint, in one round trip. Every query is served by an
 * index (task_instance_state, outbox_unpublished) or reads a table as small as the cluster
 * (worker, import_error): ended task instances, which grow without bound, are not read.
 */
export class ClusterStatsRepository {
  constructor(private readonly db: Database) {}

  async counts(): Promise<ClusterCounts> {
    const [tis, workers, outbox, errors, queues] = await this.db.queryMany(
      `SELECT state, queue, count(*)::int AS n FROM task_instance
         WHERE state IN ('none', 'scheduled', 'queued', 'running', 'up_for_retry') GROUP BY state, queue;
       SELECT state, count(*)::int AS n FROM worker GROUP BY state;
       SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL;
       SELECT count(*)::int AS n FROM import_error;
       SELECT DISTINCT jsonb_array_elements_text(queues) AS queue FROM worker WHERE state IN ('active', 'draining', 'stopping')`,
    );
    const queueSet = new Set<string>([...tis.map((r: any) => r.queue as string), ...queues.map((r: any) => r.queue as string)]);
    return {
      taskInstances: tis.map((r: any) => ({ state: r.state, queue: r.queue, count: r.n })),
      workers: workers.map((r: any) => ({ state: r.state, count: r.n })),
      outboxBacklog: outbox[0]?.n ?? 0,
      importErrors: errors[0]?.n ?? 0,
      queues: [...queueSet].sort(),
    };
  }
}
