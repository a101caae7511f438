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
   * commit and publish, or by a scheduler that died), in id order, `batch` at a time, and
   * deletes those the broker confirmed. Rows are locked with SKIP LOCKED so several
   * schedulers can sweep at once. Returns how many were published.
   */
  /**
   * @param inFlight ids the caller is publishing right now (a broker outage can hold them
   *   longer than `olderThanMs`): left alone, or they would go out twice.
   */
  async relay(publish: (m: OutboxMessage) => Promise<void>, olderThanMs: number, batch = 1000, inFlight: readonly number[] = []): Promise<number> {
    let total = 0;
    for (;;) {
      const sent = await this.db.transaction(async (tx) => {
        const rows = await tx.query(
          // The age is measured on the database's clock, the one created_at was written with.
          `SELECT id, exchange, routing_key, payload FROM outbox
           WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $2::double precision / 1000)
             AND id <> ALL($3::bigint[])
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, [batch, olderThanMs, inFlight],
        );
        if (rows.length === 0) return 0;
        await Promise.all(rows.map((r: any) => publish({ exchange: r.exchange, routingKey: r.routing_key, payload: r.payload })));
        await tx.query(`DELETE FROM outbox WHERE id = ANY($1)`, [rows.map((r: any) => r.id)]);
        return rows.length;
      });
      total += sent;
      if (sent < batch) return total;
    }
  }

  async pending(): Promise<number> {
    const rows = await this.db.query(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`);
    return rows[0].n;
  }
}
