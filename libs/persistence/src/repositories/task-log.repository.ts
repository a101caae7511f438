import type { Database, Queryable } from '../database';
import type { LogLine } from '../records';

export interface LogBatchRow {
  tiId: number;
  tryNumber: number;
  seq: number;
  lines: LogLine[];
}

/** A try whose log is complete and not archived yet: what names its archive object. */
export interface UnarchivedLog {
  tiId: number;
  tryNumber: number;
  dagId: string;
  runId: string;
  taskId: string;
}

/** A try's archived log (`task_log_archive`). */
export interface LogArchiveRow {
  tiId: number;
  tryNumber: number;
  /** The object's URL in the artefacts store. */
  url: string;
  lineCount: number;
  archivedAt: Date;
  /** When its `task_log` rows were deleted (retention); null while they are kept. */
  prunedAt: Date | null;
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
   * Up to `limit` tries whose log is complete and not archived: a later try exists, or the
   * task instance is not queued or running and its try ended before `endedBefore` (a grace
   * for a batch that comes after the end). Their end waited for their log (the end gate).
   */
  async unarchived(endedBefore: Date, limit: number): Promise<UnarchivedLog[]> {
    const rows = await this.db.query(
      `SELECT l.ti_id, l.try_number, t.dag_id, t.task_id, d.run_id
       FROM (SELECT DISTINCT ti_id, try_number FROM task_log) l
       JOIN task_instance t ON t.id = l.ti_id JOIN dag_run d ON d.id = t.run_pk
       WHERE NOT EXISTS (SELECT 1 FROM task_log_archive a WHERE a.ti_id = l.ti_id AND a.try_number = l.try_number)
         AND (l.try_number < t.try_number OR (t.state NOT IN ('queued', 'running') AND (t.ended_at IS NULL OR t.ended_at < $1)))
       ORDER BY l.ti_id, l.try_number LIMIT $2`,
      [endedBefore, limit],
    );
    return rows.map((r: any) => ({ tiId: Number(r.ti_id), tryNumber: r.try_number, dagId: r.dag_id, runId: r.run_id, taskId: r.task_id }));
  }

  /** Every line of one try, in order (for its archive). */
  async readAll(tiId: number, tryNumber: number): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    for (let cursor = 0; ;) {
      const page = await this.read(tiId, tryNumber, cursor, 1000);
      lines.push(...page.lines);
      if (page.cursor === cursor) return lines;
      cursor = page.cursor;
    }
  }

  /** Records archived tries (a try archived twice, by two webservers, keeps its first row). */
  async markArchived(rows: readonly Omit<LogArchiveRow, 'prunedAt'>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `INSERT INTO task_log_archive (ti_id, try_number, url, line_count, archived_at)
       SELECT a.ti_id, a.try_number, a.url, a.line_count, a.archived_at
       FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::timestamptz[]) AS a(ti_id, try_number, url, line_count, archived_at)
       WHERE EXISTS (SELECT 1 FROM task_instance t WHERE t.id = a.ti_id)
       ON CONFLICT (ti_id, try_number) DO NOTHING`,
      [rows.map((r) => r.tiId), rows.map((r) => r.tryNumber), rows.map((r) => r.url), rows.map((r) => r.lineCount), rows.map((r) => r.archivedAt)],
    );
  }

  /** The archive of one try, or null when it is not archived. */
  async archiveOf(tiId: number, tryNumber: number): Promise<LogArchiveRow | null> {
    const rows = await this.db.query(`SELECT * FROM task_log_archive WHERE ti_id = $1 AND try_number = $2`, [tiId, tryNumber]);
    const r = rows[0];
    if (!r) return null;
    return {
      tiId: Number(r.ti_id), tryNumber: r.try_number, url: r.url, lineCount: r.line_count,
      archivedAt: new Date(r.archived_at), prunedAt: r.pruned_at ? new Date(r.pruned_at) : null,
    };
  }

  /**
   * Deletes the `task_log` rows of up to `limit` tries archived before `before`, and marks
   * them pruned; returns how many tries. Only archived tries lose their rows, and only when
   * their rows hold as many lines as their archive: a try that got lines after it was
   * archived (a late batch) loses its archive row instead, so the next pass archives it again.
   */
  async pruneArchived(before: Date, now: Date, limit: number): Promise<number> {
    const rows = await this.db.query(
      `WITH candidates AS (
         SELECT ti_id, try_number, line_count FROM task_log_archive WHERE pruned_at IS NULL AND archived_at < $1
         ORDER BY archived_at LIMIT $3 FOR UPDATE SKIP LOCKED),
       counted AS (
         SELECT c.ti_id, c.try_number, c.line_count,
           COALESCE((SELECT sum(jsonb_array_length(l.lines)) FROM task_log l WHERE l.ti_id = c.ti_id AND l.try_number = c.try_number), 0) AS lines_now
         FROM candidates c),
       stale AS (
         DELETE FROM task_log_archive a USING counted c
         WHERE a.ti_id = c.ti_id AND a.try_number = c.try_number AND c.lines_now <> c.line_count RETURNING a.ti_id),
       victims AS (SELECT ti_id, try_number FROM counted WHERE lines_now = line_count),
       deleted AS (DELETE FROM task_log l USING victims v WHERE l.ti_id = v.ti_id AND l.try_number = v.try_number)
       UPDATE task_log_archive a SET pruned_at = $2 FROM victims v WHERE a.ti_id = v.ti_id AND a.try_number = v.try_number
       RETURNING a.ti_id`,
      [before, now, limit],
    );
    return rows.length;
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
