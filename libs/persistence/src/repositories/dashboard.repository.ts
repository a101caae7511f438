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
  /** Each task instance's latest try only (one row per instance, as bull-board's jobs are). */
  latestOnly?: boolean;
  limit: number;
  offset: number;
}

/** One try of a task instance across DAGs (its latest, or an earlier one). */
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
   * Tries across DAGs, newest first (by start, or queue time before they start), with the total
   * matching the filters: each task instance's latest try (its own row, once queued) and, unless
   * `latestOnly`, its earlier tries as `task_try` keeps them (and its last try that way while the
   * instance is cleared or scheduled again). The filters apply per try: its
   * state, worker and times; queue, DAG and instance are the task instance's.
   */
  async tries(f: TriesFilter): Promise<{ items: TryRecord[]; total: number }> {
    const params: unknown[] = [];
    const param = (value: unknown) => { params.push(value); return `$${params.length}`; };
    // One condition list per side: the latest try (t) and the earlier ones (p), each on its own indexes.
    // Cleared (none) or waiting to be queued again (scheduled), the instance's row still carries
    // its last try's number but no longer that try's state and worker: that try is read from
    // task_try like an earlier one (bull-board's jobs keep the row as it is).
    const waiting = `t.state IN ('none', 'scheduled')`;
    const latest = [f.latestOnly ? 't.try_number > 0 OR t.queued_at IS NOT NULL' : `(t.try_number > 0 OR t.queued_at IS NOT NULL) AND NOT ${waiting}`];
    const earlier = [`p.try_number < t.try_number OR (p.try_number = t.try_number AND ${waiting})`];
    const both = (l: string, e: string) => { latest.push(l); earlier.push(e); };
    if (f.states?.length) { const v = param(f.states); both(`t.state = ANY(${v})`, `p.state = ANY(${v})`); }
    if (f.queue) { const v = param(f.queue); both(`t.queue = ${v}`, `t.queue = ${v}`); }
    if (f.worker) { const v = param(f.worker); both(`t.worker = ${v}`, `p.worker = ${v}`); }
    if (f.dagId) { const v = param(f.dagId); both(`t.dag_id = ${v}`, `t.dag_id = ${v}`); }
    if (f.tiId !== undefined) { const v = param(f.tiId); both(`t.id = ${v}`, `p.ti_id = ${v}`); }
    if (f.since) { const v = param(f.since); both(`COALESCE(t.started_at, t.queued_at) >= ${v}`, `p.sort_at >= ${v}`); }
    if (f.until) { const v = param(f.until); both(`COALESCE(t.started_at, t.queued_at) < ${v}`, `p.sort_at < ${v}`); }
    const cond = (c: string[]) => c.map((w) => `(${w})`).join(' AND ');
    const latestSql = `SELECT t.id, t.dag_id, t.run_pk, t.task_id, t.state, t.try_number, t.max_tries, t.queue, t.worker, t.hostname,
        t.exit_code, t.reason, t.queued_at, t.started_at, t.ended_at, COALESCE(t.started_at, t.queued_at) AS sort_at
      FROM task_instance t WHERE ${cond(latest)}`;
    const earlierSql = `SELECT t.id, t.dag_id, t.run_pk, t.task_id, p.state, p.try_number, t.max_tries, t.queue, p.worker, p.hostname,
        p.exit_code, p.reason, p.queued_at, p.started_at, p.ended_at, p.sort_at
      FROM task_try p JOIN task_instance t ON t.id = p.ti_id WHERE ${cond(earlier)}`;
    const union = f.latestOnly ? latestSql : `${latestSql} UNION ALL ${earlierSql}`;
    const [rows, [count]] = await Promise.all([
      this.db.query(
        `SELECT x.*, r.run_id FROM (${union}) x JOIN dag_run r ON r.id = x.run_pk
         ORDER BY x.sort_at DESC NULLS LAST, x.id DESC, x.try_number DESC
         LIMIT ${Math.floor(f.limit)} OFFSET ${Math.floor(f.offset)}`, params),
      this.db.query(`SELECT count(*)::int AS n FROM (${union}) x`, params),
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
