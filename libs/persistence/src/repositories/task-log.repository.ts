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
  /** The newest `task_log` row id of the try seen so far: an archive holding it clears the try. */
  upTo: number;
  /**
   * The try's archive when its rows were pruned and batches came after (late): the new
   * archive is that object with them merged in. Null when the try has no archive.
   */
  prunedArchiveUrl: string | null;
}

/** One stored log batch of a try, as the worker sent it (`seq` from 1). */
export interface StoredLogBatch {
  id: number;
  seq: number;
  lines: LogLine[];
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

  /**
   * Stores batches, their ids in the order given (the sink gives each try's in `seq` order):
   * {@link read} pages by id, so ids must follow `seq` (a hash join in the plan handed them
   * out in reverse, and a paged read skipped batches).
   */
  async append(batches: LogBatchRow[]): Promise<void> {
    if (batches.length === 0) return;
    await this.db.query(
      `INSERT INTO task_log (ti_id, try_number, seq, lines)
       SELECT b.ti_id, b.try_number, b.seq, b.lines FROM unnest($1::bigint[], $2::int[], $3::int[], $4::jsonb[]) WITH ORDINALITY
         AS b(ti_id, try_number, seq, lines, ord)
       WHERE EXISTS (SELECT 1 FROM task_instance t WHERE t.id = b.ti_id)
       ORDER BY b.ord`,
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
   * Lines of one try after `cursor` (exclusive; 0 = from the start), at most `limit` batches,
   * in the order the worker sent them. Returns the cursor to pass next time (for pages and
   * live tails): the page is the next batches by id, so none is skipped, in `seq` order
   * within it (a batch stored again, a redelivery, comes in the page that stored it).
   */
  async read(tiId: number, tryNumber: number, cursor = 0, limit = 1000): Promise<{ lines: LogLine[]; cursor: number }> {
    const rows = await this.db.query(
      `SELECT id, lines FROM (
         SELECT id, seq, lines FROM task_log WHERE ti_id = $1 AND try_number = $2 AND id > $3 ORDER BY id LIMIT $4) page
       ORDER BY seq, id`,
      [tiId, tryNumber, cursor, limit],
    );
    const lines = rows.flatMap((r: any) => r.lines as LogLine[]);
    const next = rows.reduce((max: number, r: any) => Math.max(max, Number(r.id)), cursor);
    return { lines, cursor: next };
  }

  /**
   * Moves the archive's watermark over the `task_log` rows stored since the last call, at
   * most `limit` of them (by primary key), and records their tries as due for archiving:
   * tries without an archive, and pruned ones (a late batch, to merge into their archive);
   * a try archived and not pruned is left out (a batch stored after it is found by
   * {@link pruneArchived}). Stops before a row created less than `settleMs` ago (database
   * clock): a row with a lower id may still be uncommitted, and the watermark never passes
   * a row it could not see. Returns how many rows it passed, and whether it stopped at the
   * limit (call again).
   */
  async scanForArchive(settleMs: number, limit: number): Promise<{ scanned: number; more: boolean }> {
    const rows = await this.db.query(
      `WITH w AS (SELECT last_log_id FROM task_log_archive_scan FOR UPDATE),
       scan AS (SELECT l.id, l.ti_id, l.try_number, l.created_at FROM task_log l, w WHERE l.id > w.last_log_id ORDER BY l.id LIMIT $2),
       young AS (SELECT min(id) AS id FROM scan WHERE created_at >= now() - $1 * interval '1 millisecond'),
       taken AS (SELECT * FROM scan WHERE (SELECT id FROM young) IS NULL OR id < (SELECT id FROM young)),
       due AS (
         INSERT INTO task_log_archive_due (ti_id, try_number, up_to)
         SELECT t.ti_id, t.try_number, max(t.id) FROM taken t
         WHERE NOT EXISTS (SELECT 1 FROM task_log_archive a WHERE a.ti_id = t.ti_id AND a.try_number = t.try_number AND a.pruned_at IS NULL)
           AND EXISTS (SELECT 1 FROM task_instance i WHERE i.id = t.ti_id)
         GROUP BY t.ti_id, t.try_number
         ON CONFLICT (ti_id, try_number) DO UPDATE SET up_to = GREATEST(task_log_archive_due.up_to, EXCLUDED.up_to))
       UPDATE task_log_archive_scan SET last_log_id = (SELECT max(id) FROM taken) WHERE EXISTS (SELECT 1 FROM taken)
       RETURNING (SELECT count(*)::int FROM taken) AS taken, (SELECT count(*)::int FROM scan) AS seen`,
      [settleMs, limit],
    );
    const taken = Number(rows[0]?.taken ?? 0);
    return { scanned: taken, more: taken === limit };
  }

  /** The archive's watermark: the newest `task_log` row id {@link scanForArchive} has passed. */
  async archiveWatermark(): Promise<number> {
    const rows = await this.db.query(`SELECT last_log_id FROM task_log_archive_scan`);
    return Number(rows[0]?.last_log_id ?? 0);
  }

  /**
   * Up to `limit` tries due for archiving ({@link scanForArchive}) whose log is complete: a
   * later try exists, or the task instance is not queued or running and its try ended before
   * `endedBefore` (a grace for a batch that comes after the end). Their end waited for their
   * log (the end gate). Reads the due tries only, never `task_log`.
   */
  async unarchived(endedBefore: Date, limit: number): Promise<UnarchivedLog[]> {
    const rows = await this.db.query(
      `SELECT d.ti_id, d.try_number, d.up_to, t.dag_id, t.task_id, r.run_id, a.url AS pruned_url
       FROM task_log_archive_due d
       JOIN task_instance t ON t.id = d.ti_id JOIN dag_run r ON r.id = t.run_pk
       LEFT JOIN task_log_archive a ON a.ti_id = d.ti_id AND a.try_number = d.try_number AND a.pruned_at IS NOT NULL
       WHERE d.try_number < t.try_number OR (t.state NOT IN ('queued', 'running') AND (t.ended_at IS NULL OR t.ended_at < $1))
       ORDER BY d.ti_id, d.try_number LIMIT $2`,
      [endedBefore, limit],
    );
    return rows.map((r: any) => ({ tiId: Number(r.ti_id), tryNumber: r.try_number, dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, upTo: Number(r.up_to),
      prunedArchiveUrl: r.pruned_url ?? null,
    }));
  }

  /** Every stored batch of one try, in order (for its archive). */
  async readBatches(tiId: number, tryNumber: number): Promise<StoredLogBatch[]> {
    const rows = await this.db.query(
      `SELECT id, seq, lines FROM task_log WHERE ti_id = $1 AND try_number = $2 ORDER BY seq, id`, [tiId, tryNumber],
    );
    return rows.map((r: any) => ({ id: Number(r.id), seq: r.seq, lines: r.lines as LogLine[] }));
  }

  /**
   * Records archived tries, each holding its rows up to `upTo` (a row id): an archive made
   * again (a batch came after the first) replaces the try's record. The try stops being due
   * unless a newer row was seen meanwhile. Two webservers archiving the same try at once
   * write the same object; the last record counts. `folded`: row ids of a pruned try now in
   * its archive (late batches merged in), deleted here: the try stays pruned.
   */
  async markArchived(rows: readonly (Omit<LogArchiveRow, 'prunedAt'> & { upTo: number; folded?: readonly number[] })[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `WITH a AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::timestamptz[], $6::bigint[])
         AS a(ti_id, try_number, url, line_count, archived_at, up_to)),
       folded AS (
         DELETE FROM task_log l USING unnest($7::bigint[]) AS f(id), task_log_archive p
         WHERE l.id = f.id AND p.ti_id = l.ti_id AND p.try_number = l.try_number AND p.pruned_at IS NOT NULL),
       done AS (
         DELETE FROM task_log_archive_due d USING a WHERE d.ti_id = a.ti_id AND d.try_number = a.try_number AND d.up_to <= a.up_to)
       INSERT INTO task_log_archive (ti_id, try_number, url, line_count, archived_at)
       SELECT a.ti_id, a.try_number, a.url, a.line_count, a.archived_at FROM a
       WHERE EXISTS (SELECT 1 FROM task_instance t WHERE t.id = a.ti_id)
       ON CONFLICT (ti_id, try_number) DO UPDATE SET url = EXCLUDED.url, line_count = EXCLUDED.line_count, archived_at = EXCLUDED.archived_at`,
      [rows.map((r) => r.tiId), rows.map((r) => r.tryNumber), rows.map((r) => r.url), rows.map((r) => r.lineCount), rows.map((r) => r.archivedAt), rows.map((r) => r.upTo),
        rows.flatMap((r) => r.folded ?? [])],
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
   * their rows hold as many lines as their archive and they are not due again: a try that got
   * lines after it was archived (a late batch) keeps its rows and is made due, so the next
   * pass archives it again before its rows go.
   */
  async pruneArchived(before: Date, now: Date, limit: number): Promise<number> {
    const rows = await this.db.query(
      `WITH candidates AS (
         SELECT a.ti_id, a.try_number, a.line_count FROM task_log_archive a
         WHERE a.pruned_at IS NULL AND a.archived_at < $1
           AND NOT EXISTS (SELECT 1 FROM task_log_archive_due d WHERE d.ti_id = a.ti_id AND d.try_number = a.try_number)
         ORDER BY a.archived_at LIMIT $3 FOR UPDATE SKIP LOCKED),
       counted AS (
         SELECT c.ti_id, c.try_number, c.line_count, l.lines_now, l.last_id
         FROM candidates c CROSS JOIN LATERAL (
           SELECT COALESCE(sum(jsonb_array_length(l.lines)), 0) AS lines_now, max(l.id) AS last_id
           FROM task_log l WHERE l.ti_id = c.ti_id AND l.try_number = c.try_number) l),
       stale AS (
         INSERT INTO task_log_archive_due (ti_id, try_number, up_to)
         SELECT ti_id, try_number, last_id FROM counted WHERE lines_now <> line_count AND last_id IS NOT NULL
         ON CONFLICT (ti_id, try_number) DO UPDATE SET up_to = GREATEST(task_log_archive_due.up_to, EXCLUDED.up_to)),
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
