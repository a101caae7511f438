import type { Database, Queryable } from '../database';
import type { LogLine } from '../records';

export interface LogBatchRow {
  tiId: number;
  tryNumber: number;
  seq: number;
  lines: LogLine[];
}

/** Log lines per task try, stored in the batches the workers sent. */
export class TaskLogRepository {
  constructor(private readonly db: Database) {}

  async append(batches: LogBatchRow[]): Promise<void> {
    if (batches.length === 0) return;
    await this.db.query(
      `INSERT INTO task_log (ti_id, try_number, seq, lines)
       SELECT b.ti_id, b.try_number, b.seq, b.lines FROM unnest($1::bigint[], $2::int[], $3::int[], $4::jsonb[])
         AS b(ti_id, try_number, seq, lines)
       WHERE EXISTS (SELECT 1 FROM task_instance t WHERE t.id = b.ti_id)`,
      [batches.map((b) => b.tiId), batches.map((b) => b.tryNumber), batches.map((b) => b.seq), batches.map((b) => JSON.stringify(b.lines))],
    );
  }

  /** How many distinct batches with `seq` from `first` to `last` are stored for one try. */
  async countBatches(tiId: number, tryNumber: number, first: number, last: number): Promise<number> {
    const rows = await this.db.query(
      `SELECT count(DISTINCT seq)::int AS n FROM task_log WHERE ti_id = $1 AND try_number = $2 AND seq BETWEEN $3 AND $4`,
      [tiId, tryNumber, first, last],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Lines of one try after `cursor` (exclusive; 0 = from the start), in the order the
   * worker sent them. Returns the cursor to pass next time (for live tails).
   */
  async read(tiId: number, tryNumber: number, cursor = 0, limit = 1000): Promise<{ lines: LogLine[]; cursor: number }> {
    const rows = await this.db.query(
      `SELECT id, lines FROM task_log WHERE ti_id = $1 AND try_number = $2 AND id > $3 ORDER BY seq, id LIMIT $4`,
      [tiId, tryNumber, cursor, limit],
    );
    const lines = rows.flatMap((r: any) => r.lines as LogLine[]);
    const next = rows.reduce((max: number, r: any) => Math.max(max, Number(r.id)), cursor);
    return { lines, cursor: next };
  }

  /**
   * Records that a scheduler holds the end of this try until its log is stored (at `at`, its
   * clock), for the other schedulers to see; refreshes an earlier hold. Holds older than
   * `expiredBefore` are deleted on the way.
   */
  async holdEnd(tiId: number, tryNumber: number, at: Date, expiredBefore: Date): Promise<void> {
    await this.db.query(
      `WITH expired AS (DELETE FROM task_end_hold WHERE held_at < $4 AND NOT (ti_id = $1 AND try_number = $2))
       INSERT INTO task_end_hold (ti_id, try_number, held_at)
       SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM task_instance WHERE id = $1)
       ON CONFLICT (ti_id, try_number) DO UPDATE SET held_at = EXCLUDED.held_at`,
      [tiId, tryNumber, at, expiredBefore],
    );
  }

  /** Of these tries, those whose end some scheduler has held since `since` (`tiId:tryNumber` keys). */
  async heldEnds(tries: readonly { tiId: number; tryNumber: number }[], since: Date, q: Queryable = this.db): Promise<Set<string>> {
    if (tries.length === 0) return new Set();
    const rows = await q.query(
      `SELECT h.ti_id, h.try_number FROM task_end_hold h
       JOIN unnest($1::bigint[], $2::int[]) AS t(ti_id, try_number) ON t.ti_id = h.ti_id AND t.try_number = h.try_number
       WHERE h.held_at >= $3`,
      [tries.map((t) => t.tiId), tries.map((t) => t.tryNumber), since],
    );
    return new Set(rows.map((r: { ti_id: string | number; try_number: number }) => `${Number(r.ti_id)}:${r.try_number}`));
  }
}
