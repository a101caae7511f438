import type { DagRunState, RunType, TiState } from '@swarmflow/core';
import type { Database, Queryable } from '../database';
import type { DagRun } from '../records';
import { toDagRun } from './row-mappers';

/** A locked run with its task instances' (task, state, try) as run evaluation sees them. */
export interface LockedRun {
  run: DagRun;
  needsEval: boolean;
  /** The run's `ti_seq` as read under its lock. */
  tiSeq: number;
  /** Null when the caller's cached states are current (its cached `ti_seq` equals the run's): they were not read. */
  tis: RunTaskState[] | null;
}

/** A task instance as run evaluation sees it. */
export interface RunTaskState {
  id: number;
  taskId: string;
  state: TiState;
  tryNumber: number;
  maxTries: number;
}

export interface NewDagRun {
  dagId: string;
  runId: string;
  versionHash: string;
  runType: RunType;
  logicalDate: Date;
  conf: Record<string, unknown>;
  params: Record<string, unknown>;
  /** The backfill that creates it (table `backfill`); none by default. */
  backfillId?: number | null;
  /** See DagRun.cacheForce. Default null. */
  cacheForce?: string | null;
}

/** Raised when a run id is taken; the API maps it to 409. */
export class DuplicateRunError extends Error {
  constructor(readonly dagId: string, readonly runId: string) {
    super(`DAG "${dagId}" already has a run "${runId}". Fix: pass another run id, or omit it to get a generated one.`);
    this.name = 'DuplicateRunError';
  }
}

/**
 * Raised when the DAG already has a run at the logical date (one run per DAG and logical
 * date, as in Airflow); the API maps it to 409. Names the run that holds the date.
 */
export class DuplicateLogicalDateError extends Error {
  /** What is wrong, without the fix: `DAG "d" already has a run at logical date …: "r" (failed); a DAG has one run per logical date`. */
  readonly problem: string;
  /** The fix without the CLI command the message gives, for a page that offers its own way to clear. */
  readonly hint = 'to run that date again, clear the tasks of that run, or pick another logical date';

  constructor(readonly dagId: string, readonly logicalDate: Date, readonly existingRunId: string, readonly existingState: DagRunState) {
    const problem = `DAG "${dagId}" already has a run at logical date ${logicalDate.toISOString()}: "${existingRunId}" (${existingState}); ` +
      'a DAG has one run per logical date';
    super(`${problem}. Fix: to run that date again, clear the tasks of that run ` +
      `(\`swarmflow tasks clear ${dagId} ${existingRunId} <task> --downstream\`), or pick another logical date.`);
    this.problem = problem;
    this.name = 'DuplicateLogicalDateError';
  }
}

/** A conflict whose run was deleted before it could be named is tried again, this often. */
const CREATE_ATTEMPTS = 3;

export class DagRunRepository {
  constructor(private readonly db: Database) {}

  /**
   * Creates a run in state `queued`; the scheduler starts it when max_active_runs allows.
   * The database's unique keys decide, so two concurrent calls never both succeed.
   * @throws DuplicateRunError (the run id is taken; checked first),
   *   DuplicateLogicalDateError (the DAG has a run at that logical date)
   */
  async create(run: NewDagRun, q: Queryable = this.db): Promise<DagRun> {
    for (let attempt = 1; ; attempt++) {
      // No conflict target: either unique key (run id, logical date) makes it a no-op, never
      // an error, so a caller's transaction survives it.
      const rows = await q.query(
        `INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date, conf, params, needs_eval, backfill_id, cache_force)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, true, $8, $9)
         ON CONFLICT DO NOTHING RETURNING *`,
        [run.dagId, run.runId, run.versionHash, run.runType, run.logicalDate, JSON.stringify(run.conf), JSON.stringify(run.params), run.backfillId ?? null, run.cacheForce ?? null],
      );
      if (rows[0]) return toDagRun(rows[0]);
      // A new statement: under READ COMMITTED it sees the committed run the insert waited for.
      const [held] = await q.query(
        `SELECT run_id, state FROM dag_run WHERE dag_id = $1 AND (run_id = $2 OR logical_date = $3)
         ORDER BY run_id = $2 DESC LIMIT 1`,
        [run.dagId, run.runId, run.logicalDate],
      );
      if (held?.run_id === run.runId) throw new DuplicateRunError(run.dagId, run.runId);
      if (held) throw new DuplicateLogicalDateError(run.dagId, run.logicalDate, held.run_id, held.state);
      if (attempt >= CREATE_ATTEMPTS) throw new Error(`creating run "${run.runId}" of DAG "${run.dagId}" kept conflicting with runs deleted meanwhile`);
    }
  }

  /**
   * The first millisecond at or after `from` at which the DAG has no run: where a trigger
   * that did not choose its logical date goes when `from` is taken.
   */
  async nextFreeLogicalDate(dagId: string, from: Date, q: Queryable = this.db): Promise<Date> {
    // The first free one is `from` or just after a run (the index on (dag_id, logical_date)
    // serves both lookups). Truncated: a date the migration moved by microseconds counts as its millisecond.
    const [row] = await q.query(
      `SELECT min(c) AS free FROM (
         SELECT $2::timestamptz AS c
         UNION ALL SELECT date_trunc('milliseconds', logical_date) + interval '1 millisecond' FROM dag_run WHERE dag_id = $1 AND logical_date >= $2
       ) candidate
       WHERE NOT EXISTS (SELECT 1 FROM dag_run r WHERE r.dag_id = $1 AND r.logical_date >= c AND r.logical_date < c + interval '1 millisecond')`,
      [dagId, from],
    );
    return new Date(row.free);
  }

  async get(dagId: string, runId: string, q: Queryable = this.db): Promise<DagRun | null> {
    const rows = await q.query(`SELECT * FROM dag_run WHERE dag_id = $1 AND run_id = $2`, [dagId, runId]);
    return rows[0] ? toDagRun(rows[0]) : null;
  }

  /**
   * Newest first. `q`: runs whose run id, DAG id or run type contains it, case-insensitive
   * (a plain substring: `%` and `_` are no wildcards), searched over all runs.
   */
  async list(filter: { dagId?: string; state?: DagRunState; q?: string; limit?: number }): Promise<DagRun[]> {
    const rows = await this.db.query(
      `SELECT * FROM dag_run WHERE ($1::text IS NULL OR dag_id = $1) AND ($2::text IS NULL OR state = $2)
         AND ($4::text IS NULL OR strpos(lower(run_id), $4) > 0 OR strpos(lower(dag_id), $4) > 0 OR strpos(lower(run_type), $4) > 0)
       ORDER BY id DESC LIMIT $3`,
      [filter.dagId ?? null, filter.state ?? null, filter.limit ?? 100, filter.q ? filter.q.toLowerCase() : null],
    );
    return rows.map(toDagRun);
  }

  /**
   * The newest `perDag` runs of each DAG (by creation, newest first), in one query for a
   * whole list of DAGs: a busy DAG's runs cannot crowd a quiet one's out, as a shared
   * `LIMIT` over all runs would.
   */
  async recentByDag(dagIds: readonly string[], perDag: number, q: Queryable = this.db): Promise<Map<string, DagRun[]>> {
    const byDag = new Map<string, DagRun[]>(dagIds.map((id) => [id, []]));
    if (!dagIds.length || perDag < 1) return byDag;
    const rows = await q.query(
      `SELECT r.* FROM unnest($1::text[]) AS d(dag_id)
       CROSS JOIN LATERAL (SELECT * FROM dag_run WHERE dag_run.dag_id = d.dag_id ORDER BY id DESC LIMIT $2) r
       ORDER BY r.dag_id, r.id DESC`,
      [dagIds, perDag],
    );
    for (const row of rows) byDag.get(row.dag_id)?.push(toDagRun(row));
    return byDag;
  }

  /** Runs someone outside the scheduler created or changed (trigger, clear), oldest first. */
  async needingEvaluation(limit: number, q: Queryable = this.db): Promise<number[]> {
    const rows = await q.query(`SELECT id FROM dag_run WHERE needs_eval ORDER BY id LIMIT $1`, [limit]);
    return rows.map((r: any) => Number(r.id));
  }

  /** Locks the runs (in id order, so two schedulers never deadlock) and returns them. */
  async lock(pks: number[], q: Queryable): Promise<DagRun[]> {
    if (pks.length === 0) return [];
    const rows = await q.query(`SELECT * FROM dag_run WHERE id = ANY($1) ORDER BY id FOR UPDATE`, [pks]);
    return rows.map(toDagRun);
  }

  /**
   * Locks the runs (in id order) and returns each with the (task, state) of its task
   * instances, in one round trip: what run evaluation needs.
   */
  async lockWithTaskStates(pks: number[], q: Queryable, cached: ReadonlyMap<number, number> = new Map()): Promise<LockedRun[]> {
    if (pks.length === 0) return [];
    const [runs, tis] = await q.queryMany(this.lockWithTaskStatesSql(pks, cached));
    return this.lockedRuns(runs, tis, cached);
  }

  /**
   * The statements of {@link lockWithTaskStates}, parameterless (numeric ids inlined), to
   * batch with others: lock the runs, THEN read their task instances. Two statements on
   * purpose: under READ COMMITTED a statement that waited for a lock (a user's clear) still
   * reads other tables as of its own start, so the states must be read by the next one.
   * @param cached run key → the `ti_seq` of the caller's cached states: a run whose
   *   counter still equals it has its task instances left out (the cache is current).
   */
  lockWithTaskStatesSql(pks: readonly number[], cached: ReadonlyMap<number, number> = new Map()): string {
    const list = pks.map((pk) => Math.trunc(pk)).join(',');
    const known = pks.filter((pk) => cached.has(pk)).map((pk) => `(${Math.trunc(pk)},${Math.trunc(cached.get(pk)!)})`);
    const tis = known.length === 0
      ? `SELECT run_pk, id, task_id, state, try_number, max_tries FROM task_instance WHERE run_pk IN (${list})`
      : `SELECT t.run_pk, t.id, t.task_id, t.state, t.try_number, t.max_tries FROM task_instance t
         JOIN dag_run r ON r.id = t.run_pk WHERE t.run_pk IN (${list}) AND (r.id, r.ti_seq) NOT IN (VALUES ${known.join(',')})`;
    return `SELECT * FROM dag_run WHERE id IN (${list}) ORDER BY id FOR UPDATE; ${tis}`;
  }

  /** Maps the two result sets of {@link lockWithTaskStatesSql} (given the same `cached`). */
  lockedRuns(runRows: any[], tiRows: any[], cached: ReadonlyMap<number, number> = new Map()): LockedRun[] {
    const byRun = new Map<number, RunTaskState[]>();
    for (const t of tiRows) {
      const pk = Number(t.run_pk);
      let list = byRun.get(pk);
      if (!list) byRun.set(pk, (list = []));
      list.push({ id: Number(t.id), taskId: t.task_id, state: t.state, tryNumber: t.try_number, maxTries: t.max_tries });
    }
    return runRows.map((r: any) => {
      const pk = Number(r.id);
      const tiSeq = Number(r.ti_seq);
      return { run: toDagRun(r), needsEval: r.needs_eval, tiSeq, tis: cached.get(pk) === tiSeq ? null : byRun.get(pk) ?? [] };
    });
  }

  /**
   * Raises the runs' `ti_seq` (their evaluation may have changed), so that every
   * scheduler's cached states of them are read again. The caller holds their locks.
   */
  async bumpTiSeq(pks: readonly number[], q: Queryable): Promise<void> {
    if (pks.length) await q.query(`UPDATE dag_run SET ti_seq = ti_seq + 1 WHERE id = ANY($1)`, [pks]);
  }

  /** Running runs per DAG, for max_active_runs. */
  async runningCounts(dagIds: string[], q: Queryable): Promise<Map<string, number>> {
    const rows = await q.query(
      `SELECT dag_id, count(*)::int AS n FROM dag_run WHERE state = 'running' AND dag_id = ANY($1) GROUP BY dag_id`, [dagIds],
    );
    return new Map(rows.map((r: any) => [r.dag_id, r.n]));
  }

  /** Sets the run's state; `reason` says why when its tasks did not decide it (a cancel), and is cleared otherwise. */
  async setState(pk: number, state: DagRunState, now: Date, q: Queryable, reason: string | null = null): Promise<void> {
    const ended = state === 'success' || state === 'failed';
    await q.query(
      `UPDATE dag_run SET state = $2::text, needs_eval = false, reason = $5::text, change_xid = pg_current_xact_id(),
         started_at = CASE WHEN $2::text = 'running' AND started_at IS NULL THEN $3::timestamptz ELSE started_at END,
         ended_at = CASE WHEN $4::boolean THEN $3::timestamptz ELSE NULL END
       WHERE id = $1`,
      [pk, state, now, ended, reason],
    );
  }

  /**
   * Starts a queued run: `running`, only if it still is `queued` (a user may have cancelled
   * it since it was read). Returns whether it did.
   */
  async startQueued(pk: number, now: Date, q: Queryable): Promise<boolean> {
    const rows = await q.query(
      `UPDATE dag_run SET state = 'running', needs_eval = false, reason = NULL, started_at = coalesce(started_at, $2), ended_at = NULL
       WHERE id = $1 AND state = 'queued' RETURNING id`,
      [pk, now],
    );
    return rows.length === 1;
  }

  async markEvaluated(pks: number[], q: Queryable): Promise<void> {
    if (pks.length) await q.query(`UPDATE dag_run SET needs_eval = false WHERE id = ANY($1) AND needs_eval`, [pks]);
  }

  async markNeedsEval(pk: number, q: Queryable = this.db): Promise<void> {
    // Whoever asks for an evaluation changed the run's task instances: schedulers re-read them.
    await q.query(`UPDATE dag_run SET needs_eval = true, ti_seq = ti_seq + 1 WHERE id = $1`, [pk]);
  }

  /**
   * Queued runs, oldest first, for starting under max_active_runs. A paused DAG's runs are
   * left out: as in Airflow, a run triggered while its DAG is paused stays `queued` until
   * the DAG is unpaused. So are the runs of a paused (interrupted) backfill.
   */
  async queued(limit: number, q: Queryable, perDag = 50): Promise<DagRun[]> {
    // At most `perDag` of each DAG, oldest first: a DAG with a long catchup backlog
    // cannot keep the others' runs out of the batch. A backfill's runs count apart from their
    // DAG's own (their own max_active_runs holds them): its older dates cannot keep the DAG's new runs out.
    const rows = await q.query(
      `SELECT * FROM (SELECT r.*, row_number() OVER (PARTITION BY dag_id, backfill_id ORDER BY logical_date, id) AS nth
                      FROM dag_run r WHERE state = 'queued' AND dag_id NOT IN (SELECT dag_id FROM dag WHERE is_paused)
                        AND (backfill_id IS NULL OR backfill_id NOT IN (SELECT id FROM backfill WHERE paused))) q
       WHERE nth <= $2 ORDER BY logical_date, id LIMIT $1`, [limit, perDag],
    );
    return rows.map(toDagRun);
  }

  /**
   * Moves the run to another version of its DAG (`runs upgrade`). In the same statement it
   * raises `scheduler_epoch` (schedulers deciding from memory read again) and the run's
   * `ti_seq`, and flags the run for evaluation. The caller holds the scheduling lock.
   */
  async setVersion(pk: number, versionHash: string, q: Queryable): Promise<void> {
    await q.query(
      `WITH r AS (UPDATE dag_run SET version_hash = $2, needs_eval = true, ti_seq = ti_seq + 1 WHERE id = $1 RETURNING id)
       UPDATE scheduler_epoch SET n = n + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM r)`,
      [pk, versionHash],
    );
  }

  async byPks(pks: number[], q: Queryable = this.db): Promise<DagRun[]> {
    if (pks.length === 0) return [];
    const rows = await q.query(`SELECT * FROM dag_run WHERE id = ANY($1)`, [pks]);
    return rows.map(toDagRun);
  }
}
