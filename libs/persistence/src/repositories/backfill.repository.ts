import type { TiState } from '@swarmflow/core';
import type { Database, Queryable } from '../database';
import type { DagRun } from '../records';
import { toDagRun } from './row-mappers';

/** A backfill as stored: what was asked; its runs point to it. */
export interface BackfillRecord {
  id: number;
  dagId: string;
  from: Date;
  to: Date;
  /** `--tasks` regular expression; null = every task. */
  taskPattern: string | null;
  ignoreDependencies: boolean;
  rerunFailed: boolean;
  maxActiveRuns: number;
  /** How many logical dates (= runs) it covers. */
  runCount: number;
  /** Interrupted: its queued runs are not started until it is resumed. */
  paused: boolean;
  createdAt: Date;
}

export type NewBackfill = Omit<BackfillRecord, 'id' | 'paused' | 'createdAt'>;

/** A run at one of a backfill's dates, with its task instances' states. */
export interface RunWithTaskStates {
  run: DagRun;
  tasks: Map<string, TiState>;
}

function toBackfill(r: any): BackfillRecord {
  return {
    id: Number(r.id), dagId: r.dag_id, from: new Date(r.from_date), to: new Date(r.to_date), taskPattern: r.task_pattern,
    ignoreDependencies: r.ignore_dependencies, rerunFailed: r.rerun_failed, maxActiveRuns: r.max_active_runs,
    runCount: r.run_count, paused: r.paused, createdAt: new Date(r.created_at),
  };
}

/** Backfills and the link from runs to them. */
export class BackfillRepository {
  constructor(private readonly db: Database) {}

  async create(b: NewBackfill, q: Queryable = this.db): Promise<BackfillRecord> {
    const [row] = await q.query(
      `INSERT INTO backfill (dag_id, from_date, to_date, task_pattern, ignore_dependencies, rerun_failed, max_active_runs, run_count)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [b.dagId, b.from, b.to, b.taskPattern, b.ignoreDependencies, b.rerunFailed, b.maxActiveRuns, b.runCount],
    );
    return toBackfill(row);
  }

  async get(dagId: string, id: number, q: Queryable = this.db): Promise<BackfillRecord | null> {
    const rows = await q.query(`SELECT * FROM backfill WHERE dag_id = $1 AND id = $2`, [dagId, id]);
    return rows[0] ? toBackfill(rows[0]) : null;
  }

  /** The DAG's backfills, newest first. */
  async list(dagId: string, limit = 100, q: Queryable = this.db): Promise<BackfillRecord[]> {
    const rows = await q.query(`SELECT * FROM backfill WHERE dag_id = $1 ORDER BY id DESC LIMIT $2`, [dagId, limit]);
    return rows.map(toBackfill);
  }

  /**
   * The DAG's backfills that have not ended (one of their runs is queued or running), newest
   * first. Locks the DAG's row first, so that two requests for the same DAG decide one at a time.
   */
  async unfinishedLocked(dagId: string, q: Queryable): Promise<BackfillRecord[]> {
    await q.query(`SELECT 1 FROM dag WHERE dag_id = $1 FOR UPDATE`, [dagId]);
    const rows = await q.query(
      `SELECT b.* FROM backfill b WHERE b.dag_id = $1
         AND EXISTS (SELECT 1 FROM dag_run r WHERE r.backfill_id = b.id AND r.state IN ('queued', 'running'))
       ORDER BY b.id DESC`, [dagId],
    );
    return rows.map(toBackfill);
  }

  async setPaused(id: number, paused: boolean, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE backfill SET paused = $2 WHERE id = $1`, [id, paused]);
  }

  /** The backfill's runs, oldest logical date first. */
  async runs(id: number, q: Queryable = this.db): Promise<DagRun[]> {
    const rows = await q.query(`SELECT * FROM dag_run WHERE backfill_id = $1 ORDER BY logical_date`, [id]);
    return rows.map(toDagRun);
  }

  /** The DAG's runs at the given logical dates, with their task instances' states. */
  async runsAt(dagId: string, dates: readonly Date[], q: Queryable = this.db): Promise<RunWithTaskStates[]> {
    if (dates.length === 0) return [];
    const rows = await q.query(`SELECT * FROM dag_run WHERE dag_id = $1 AND logical_date = ANY($2::timestamptz[]) ORDER BY logical_date`, [dagId, dates]);
    const runs = rows.map(toDagRun);
    const tis = runs.length === 0 ? [] : await q.query(
      `SELECT run_pk, task_id, state FROM task_instance WHERE run_pk = ANY($1)`, [runs.map((r: DagRun) => r.pk)],
    );
    const byRun = new Map<number, Map<string, TiState>>(runs.map((r: DagRun) => [r.pk, new Map()]));
    for (const t of tis) byRun.get(Number(t.run_pk))?.set(t.task_id, t.state);
    return runs.map((run: DagRun) => ({ run, tasks: byRun.get(run.pk)! }));
  }

  /** Makes the runs the backfill's (a run reused by a later backfill follows the later one). */
  async adopt(id: number, runPks: readonly number[], q: Queryable): Promise<void> {
    if (runPks.length) await q.query(`UPDATE dag_run SET backfill_id = $1 WHERE id = ANY($2)`, [id, runPks]);
  }

  /**
   * For queued runs that belong to a backfill: the backfill, its max_active_runs and how
   * many of its runs are running now.
   */
  async limitsOf(runPks: readonly number[], q: Queryable): Promise<Map<number, { backfillId: number; maxActiveRuns: number; running: number }>> {
    if (runPks.length === 0) return new Map();
    const rows = await q.query(
      `SELECT r.id AS run_pk, b.id AS backfill_id, b.max_active_runs,
              (SELECT count(*)::int FROM dag_run x WHERE x.backfill_id = b.id AND x.state = 'running') AS running
       FROM dag_run r JOIN backfill b ON b.id = r.backfill_id WHERE r.id = ANY($1)`, [runPks],
    );
    return new Map(rows.map((r: any) => [Number(r.run_pk), { backfillId: Number(r.backfill_id), maxActiveRuns: r.max_active_runs, running: r.running }]));
  }
}
