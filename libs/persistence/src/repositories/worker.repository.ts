import type { Database, Queryable } from '../database';
import type { WorkerRecord } from '../records';

/** What one heartbeat tells about a worker; the times are the scheduler's. */
export type WorkerHeartbeat = Omit<WorkerRecord, 'firstSeenAt' | 'lastHeartbeatAt'>;

/** Workers as their heartbeats describe them; the time is the scheduler's receipt time (no clock skew). */
export class WorkerRepository {
  constructor(private readonly db: Database) {}

  async recordHeartbeats(beats: WorkerHeartbeat[], now: Date, q: Queryable = this.db): Promise<void> {
    if (beats.length === 0) return;
    await q.query(
      `INSERT INTO worker (name, hostname, queues, concurrency, state, running, gpus, first_seen_at, last_heartbeat_at)
       SELECT u.name, u.hostname, u.queues, u.concurrency, u.state, u.running, u.gpus, $8, $8
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::jsonb[], $7::int[])
         AS u(name, hostname, queues, concurrency, state, running, gpus)
       ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, queues = excluded.queues,
         concurrency = excluded.concurrency, state = excluded.state, running = excluded.running,
         gpus = excluded.gpus, last_heartbeat_at = excluded.last_heartbeat_at`,
      [beats.map((b) => b.name), beats.map((b) => b.hostname), beats.map((b) => JSON.stringify(b.queues)),
        beats.map((b) => b.concurrency), beats.map((b) => b.state), beats.map((b) => JSON.stringify(b.running)),
        beats.map((b) => b.gpus), now],
    );
  }

  /**
   * Marks workers silent since `before` as lost and returns their names. A lost worker runs
   * nothing we know of (the caller fails or retries its tries in the same transaction), so
   * its `running` is emptied: its last heartbeat's list would read as tasks still running there.
   */
  async markLost(before: Date, q: Queryable): Promise<string[]> {
    const rows = await q.query(
      `UPDATE worker SET state = 'lost', running = '[]' WHERE state IN ('active', 'draining') AND last_heartbeat_at < $1 RETURNING name`, [before],
    );
    return rows.map((r: any) => r.name);
  }

  /**
   * Marks as lost the workers whose broker connection is gone (their control queue vanished
   * at `since`), unless one heartbeated after that (it reconnected). Returns their names.
   */
  async markGone(gone: { name: string; since: Date }[], q: Queryable): Promise<string[]> {
    if (gone.length === 0) return [];
    const rows = await q.query(
      `UPDATE worker w SET state = 'lost', running = '[]'
       FROM unnest($1::text[], $2::timestamptz[]) AS g(name, since)
       WHERE w.name = g.name AND w.state IN ('active', 'draining') AND w.last_heartbeat_at < g.since RETURNING w.name`,
      [gone.map((g) => g.name), gone.map((g) => g.since)],
    );
    return rows.map((r: any) => r.name);
  }

  async list(q: Queryable = this.db): Promise<WorkerRecord[]> {
    const rows = await q.query(`SELECT * FROM worker ORDER BY name`);
    return rows.map((r: any) => ({
      name: r.name, hostname: r.hostname, queues: r.queues, concurrency: r.concurrency, gpus: r.gpus, state: r.state,
      running: r.running, firstSeenAt: new Date(r.first_seen_at), lastHeartbeatAt: new Date(r.last_heartbeat_at),
    }));
  }
}
