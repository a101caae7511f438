import type { Database, Queryable } from '../database';

export interface OutboxMessage {
  exchange: string;
  routingKey: string;
  payload: object;
}

/**
 * Transactional outbox: messages are written in the same transaction as the state change
 * that needs them, and published after commit. A crash between commit and publish leaves
 * them here, and the next relay sends them (at-least-once).
 */
export class OutboxRepository {
  constructor(private readonly db: Database) {}


  /** Forgets messages the broker confirmed. */
  async markPublished(ids: number[], q: Queryable = this.db): Promise<void> {
    if (ids.length) await q.query(`DELETE FROM outbox WHERE id = ANY($1)`, [ids]);
  }

  /**
   * Recovery sweep: publishes messages older than `olderThanMs` (left by a crash between
   * commit and publish, or by a scheduler that died before deleting what it published), in
   * id order, `batch` at a time, and deletes those the broker confirmed. A task message
   * whose try is no longer `queued` (it started, ended, or was retried meanwhile) is
   * deleted unpublished: it was delivered already, and a second copy would run the try
   * again. Rows are locked with SKIP LOCKED so several schedulers can sweep at once.
   *
   * @param inFlight ids the caller is publishing right now (a broker outage can hold them
   *   longer than `olderThanMs`): left alone, or they would go out twice.
   */
  async relay(
    publish: (m: OutboxMessage) => Promise<void>, olderThanMs: number, batch = 1000, inFlight: readonly number[] = [],
  ): Promise<{ published: number; dropped: number }> {
    const total = { published: 0, dropped: 0 };
    for (;;) {
      const rows = await this.db.transaction(async (tx) => {
        const rows = await tx.query(
          // The age is measured on the database's clock, the one created_at was written with.
          `SELECT o.id, o.exchange, o.routing_key, o.payload,
                  o.ti_id IS NULL OR (t.state = 'queued' AND t.try_number::text = o.payload->>'tryNumber') AS live
           FROM outbox o LEFT JOIN task_instance t ON t.id = o.ti_id
           WHERE o.published_at IS NULL AND o.created_at < now() - make_interval(secs => $2::double precision / 1000)
             AND o.id <> ALL($3::bigint[])
           ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`, [batch, olderThanMs, inFlight],
        );
        if (rows.length === 0) return rows;
        const live = rows.filter((r: any) => r.live);
        await Promise.all(live.map((r: any) => publish({ exchange: r.exchange, routingKey: r.routing_key, payload: r.payload })));
        await tx.query(`DELETE FROM outbox WHERE id = ANY($1)`, [rows.map((r: any) => r.id)]);
        total.published += live.length;
        total.dropped += rows.length - live.length;
        return rows;
      });
      if (rows.length < batch) return total;
    }
  }

  async pending(): Promise<number> {
    const rows = await this.db.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
    return rows[0].n;
  }
}
