import type { PendingHandOver } from '@swarmflow/core';
import type { Database, Queryable } from '../database';
import type { WorkerRecord } from '../records';

/** What one heartbeat tells about a worker; the times are the scheduler's. */
export type WorkerHeartbeat = Omit<WorkerRecord, 'firstSeenAt' | 'lastHeartbeatAt' | 'processed' | 'failed' | 'startedAt' | 'version' | 'unacked'>
  & Partial<Pick<WorkerRecord, 'processed' | 'failed' | 'startedAt' | 'version' | 'unacked'>>
  & {
    /** Containers it handed over (a stopping worker), waiting for the next worker of its name until then; absent/null = none announced. */
    handOver?: PendingHandOver | null;
  };

/** Workers as their heartbeats describe them; the time is the scheduler's receipt time (no clock skew). */
export class WorkerRepository {
  constructor(private readonly db: Database) {}

  /**
   * Upserts what the heartbeats tell. A hand-over a heartbeat announces is added to the
   * worker's pending one (tries merged, the later deadline kept; an expired one is dropped);
   * a heartbeat that announces none (the next worker of that name) leaves it as it is, so
   * the tries it does not list still wait for their deadline.
   */
  async recordHeartbeats(beats: WorkerHeartbeat[], now: Date, q: Queryable = this.db): Promise<void> {
    if (beats.length === 0) return;
    await q.query(
      `INSERT INTO worker AS w (name, hostname, queues, concurrency, state, running, gpus, first_seen_at, last_heartbeat_at,
                          processed, failed, started_at, version, unacked, handed_over, handed_over_until)
       SELECT u.name, u.hostname, u.queues, u.concurrency, u.state, u.running, u.gpus, $8, $8,
              u.processed, u.failed, u.started_at, u.version, u.unacked, u.handed_over, u.handed_over_until
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::jsonb[], $7::int[],
                   $9::int[], $10::int[], $11::timestamptz[], $12::text[], $13::jsonb[], $14::jsonb[], $15::timestamptz[])
         AS u(name, hostname, queues, concurrency, state, running, gpus, processed, failed, started_at, version, unacked, handed_over, handed_over_until)
       ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, queues = excluded.queues,
         concurrency = excluded.concurrency, state = excluded.state, running = excluded.running,
         gpus = excluded.gpus, last_heartbeat_at = excluded.last_heartbeat_at,
         processed = excluded.processed, failed = excluded.failed, started_at = excluded.started_at,
         version = excluded.version, unacked = excluded.unacked,
         handed_over = CASE WHEN excluded.handed_over_until IS NULL THEN w.handed_over ELSE (
           SELECT COALESCE(jsonb_agg(DISTINCT e), '[]'::jsonb)
           FROM jsonb_array_elements(CASE WHEN w.handed_over_until > $8 THEN w.handed_over ELSE '[]'::jsonb END || excluded.handed_over) e) END,
         handed_over_until = CASE WHEN excluded.handed_over_until IS NULL THEN w.handed_over_until
           ELSE GREATEST(excluded.handed_over_until, CASE WHEN w.handed_over_until > $8 THEN w.handed_over_until END) END,
         change_xid = pg_current_xact_id()`,
      [beats.map((b) => b.name), beats.map((b) => b.hostname), beats.map((b) => JSON.stringify(b.queues)),
        beats.map((b) => b.concurrency), beats.map((b) => b.state), beats.map((b) => JSON.stringify(b.running)),
        beats.map((b) => b.gpus), now, beats.map((b) => b.processed ?? 0), beats.map((b) => b.failed ?? 0),
        beats.map((b) => b.startedAt ?? null), beats.map((b) => b.version ?? null), beats.map((b) => JSON.stringify(b.unacked ?? {})),
        beats.map((b) => JSON.stringify(b.handOver?.tries ?? [])), beats.map((b) => b.handOver?.until ?? null)],
    );
  }

  /** The pending (or expired: compare `until`) hand-over of each named worker that announced one. */
  async handOvers(names: string[], q: Queryable = this.db): Promise<Map<string, PendingHandOver>> {
    if (names.length === 0) return new Map();
    const rows = await q.query(
      `SELECT name, handed_over, handed_over_until FROM worker WHERE name = ANY($1) AND handed_over_until IS NOT NULL`, [names],
    );
    return new Map(rows.map((r: any) => [r.name, { tries: r.handed_over, until: new Date(r.handed_over_until) }]));
  }

  /**
   * Marks workers silent since `before` as lost and returns their names. A lost worker runs
   * nothing we know of (the caller fails or retries its tries in the same transaction), so
   * its `running` is emptied: its last heartbeat's list would read as tasks still running there.
   * A stopped worker whose last heartbeat still lists tries handed them over to the next
   * worker of its name (containers left running); when none heartbeats by `before`, it is lost too.
   * A worker whose hand-over is pending at `now` is not lost yet: the tries it handed over
   * wait for adoption until their deadline, and are failed with the worker's other tries after.
   */
  async markLost(before: Date, now: Date, q: Queryable): Promise<string[]> {
    const rows = await q.query(
      `UPDATE worker SET state = 'lost', running = '[]'
       WHERE (state IN ('active', 'draining', 'stopping') OR (state = 'stopped' AND running <> '[]'::jsonb)) AND last_heartbeat_at < $1
         AND (handed_over_until IS NULL OR handed_over_until <= $2)
       RETURNING name`, [before, now],
    );
    return rows.map((r: any) => r.name);
  }

  /**
   * Marks as lost the workers whose broker connection is gone (their control queue vanished
   * at `since`), unless one heartbeated after that (it reconnected), or its hand-over is
   * pending at `now` (a stopping worker exits once it handed its containers over: see
   * {@link markLost}). Returns their names.
   */
  async markGone(gone: { name: string; since: Date }[], now: Date, q: Queryable): Promise<string[]> {
    if (gone.length === 0) return [];
    const rows = await q.query(
      `UPDATE worker w SET state = 'lost', running = '[]'
       FROM unnest($1::text[], $2::timestamptz[]) AS g(name, since)
       WHERE w.name = g.name AND w.state IN ('active', 'draining', 'stopping') AND w.last_heartbeat_at < g.since
         AND (w.handed_over_until IS NULL OR w.handed_over_until <= $3) RETURNING w.name`,
      [gone.map((g) => g.name), gone.map((g) => g.since), now],
    );
    return rows.map((r: any) => r.name);
  }

  async list(q: Queryable = this.db): Promise<WorkerRecord[]> {
    const rows = await q.query(`SELECT * FROM worker ORDER BY name`);
    return rows.map(toWorkerRecord);
  }

  /**
   * Task queue topics known to the cluster: those any recorded worker serves, and those of
   * queued or running task instances (a topic no worker serves shows up here).
   */
  async knownQueues(q: Queryable = this.db): Promise<string[]> {
    const rows = await q.query(
      `SELECT jsonb_array_elements_text(queues) AS queue FROM worker
       UNION SELECT DISTINCT queue FROM task_instance WHERE state IN ('queued', 'running')
       ORDER BY queue`,
    );
    return rows.map((r: any) => r.queue);
  }

  /** One worker by name; null when no heartbeat of it was ever recorded. */
  async get(name: string, q: Queryable = this.db): Promise<WorkerRecord | null> {
    const rows = await q.query(`SELECT * FROM worker WHERE name = $1`, [name]);
    return rows.length === 0 ? null : toWorkerRecord(rows[0]);
  }
}

function toWorkerRecord(r: any): WorkerRecord {
  return {
    name: r.name, hostname: r.hostname, queues: r.queues, concurrency: r.concurrency, gpus: r.gpus, state: r.state,
    running: r.running, firstSeenAt: new Date(r.first_seen_at), lastHeartbeatAt: new Date(r.last_heartbeat_at),
    processed: r.processed, failed: r.failed, startedAt: r.started_at === null ? null : new Date(r.started_at),
    version: r.version, unacked: r.unacked,
  };
}
