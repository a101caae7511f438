import type { Database } from '../database';

/** Filters of {@link DashboardRepository.tries}; all optional. */
export interface TriesFilter {
  states?: string[];
  queue?: string;
  worker?: string;
  dagId?: string;
  since?: Date;
  until?: Date;
  /** One task instance. */
  tiId?: number;
  limit: number;
  offset: number;
}

/** One task instance's latest try across DAGs. */
export interface TryRecord {
  tiId: number;
  dagId: string;
  runId: string;
  taskId: string;
  state: string;
  tryNumber: number;
  maxTries: number;
  queue: string;
  worker: string | null;
  hostname: string | null;
  exitCode: number | null;
  reason: string | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** One queue topic's depth at one time. */
export interface QueueDepthSample {
  at: Date;
  queue: string;
  ready: number;
  unacked: number;
  consumers: number;
  queued: number;
  running: number;
}

const date = (v: unknown): Date | null => (v == null ? null : new Date(v as string));

/** The worker dashboard's reads: tries across DAGs, queue depths over time. */
export class DashboardRepository {
  constructor(private readonly db: Database) {}

  /**
   * Task instances that have been queued at least once, newest first (by start, or queue
   * time before they start), with the total matching the filters.
   */
  async tries(f: TriesFilter): Promise<{ items: TryRecord[]; total: number }> {
    const where = ['t.try_number > 0 OR t.queued_at IS NOT NULL'];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.states?.length) add('t.state = ANY(?)', f.states);
    if (f.queue) add('t.queue = ?', f.queue);
    if (f.worker) add('t.worker = ?', f.worker);
    if (f.dagId) add('t.dag_id = ?', f.dagId);
    if (f.tiId !== undefined) add('t.id = ?', f.tiId);
    if (f.since) add('COALESCE(t.started_at, t.queued_at) >= ?', f.since);
    if (f.until) add('COALESCE(t.started_at, t.queued_at) < ?', f.until);
    const cond = where.map((w) => `(${w})`).join(' AND ');
    const [rows, [count]] = await Promise.all([
      this.db.query(
        `SELECT t.id, t.dag_id, r.run_id, t.task_id, t.state, t.try_number, t.max_tries, t.queue, t.worker, t.hostname,
                t.exit_code, t.reason, t.queued_at, t.started_at, t.ended_at
         FROM task_instance t JOIN dag_run r ON r.id = t.run_pk
         WHERE ${cond}
         ORDER BY COALESCE(t.started_at, t.queued_at) DESC NULLS LAST, t.id DESC
         LIMIT ${Math.floor(f.limit)} OFFSET ${Math.floor(f.offset)}`, params),
      this.db.query(`SELECT count(*)::int AS n FROM task_instance t WHERE ${cond}`, params),
    ]);
    return {
      total: count.n,
      items: rows.map((r: any) => ({
        tiId: Number(r.id), dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, state: r.state, tryNumber: r.try_number,
        maxTries: r.max_tries, queue: r.queue, worker: r.worker, hostname: r.hostname, exitCode: r.exit_code, reason: r.reason,
        queuedAt: date(r.queued_at), startedAt: date(r.started_at), endedAt: date(r.ended_at),
      })),
    };
  }

  /** Task instances of one queue topic per state, for the given states only. */
  async countByState(queue: string, states: string[]): Promise<Record<string, number>> {
    const rows = await this.db.query(
      `SELECT state, count(*)::int AS n FROM task_instance WHERE queue = $1 AND state = ANY($2) GROUP BY state`, [queue, states],
    );
    return Object.fromEntries(states.map((st) => [st, rows.find((r: any) => r.state === st)?.n ?? 0]));
  }

  /** Task instances `queued` and `running` per queue topic (the partial index on busy states serves it). */
  async busyByQueue(): Promise<Map<string, { queued: number; running: number }>> {
    const rows = await this.db.query(
      `SELECT queue, count(*) FILTER (WHERE state = 'queued')::int AS queued, count(*) FILTER (WHERE state = 'running')::int AS running
       FROM task_instance WHERE state IN ('queued', 'running') GROUP BY queue`,
    );
    return new Map(rows.map((r: any) => [r.queue, { queued: r.queued, running: r.running }]));
  }

  /**
   * Stores samples (a second writer of the same time and queue changes nothing) and deletes
   * those older than `keepSince`: the table stays bounded.
   */
  async recordQueueSamples(samples: QueueDepthSample[], keepSince: Date): Promise<void> {
    if (samples.length) {
      await this.db.query(
        `INSERT INTO queue_depth_sample (at, queue, ready, unacked, consumers, queued, running)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[])
         ON CONFLICT (at, queue) DO NOTHING`,
        [samples.map((s) => s.at), samples.map((s) => s.queue), samples.map((s) => s.ready), samples.map((s) => s.unacked),
          samples.map((s) => s.consumers), samples.map((s) => s.queued), samples.map((s) => s.running)],
      );
    }
    await this.db.query(`DELETE FROM queue_depth_sample WHERE at < $1`, [keepSince]);
  }

  /** Samples since `since`, oldest first; of one queue topic if given. */
  async queueSamples(since: Date, queue?: string): Promise<QueueDepthSample[]> {
    const rows = await this.db.query(
      `SELECT at, queue, ready, unacked, consumers, queued, running FROM queue_depth_sample
       WHERE at >= $1 AND ($2::text IS NULL OR queue = $2) ORDER BY at, queue`,
      [since, queue ?? null],
    );
    return rows.map((r: any) => ({
      at: new Date(r.at), queue: r.queue, ready: r.ready, unacked: r.unacked, consumers: r.consumers, queued: r.queued, running: r.running,
    }));
  }
}
