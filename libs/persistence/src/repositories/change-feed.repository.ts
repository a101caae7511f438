import type { Database } from '../database';

/** A task instance as the live feed shows it, with the transaction that last changed it. */
export interface TiChange {
  xid: string;
  tiId: number;
  dagId: string;
  runId: string;
  taskId: string;
  state: string;
  tryNumber: number;
  maxTries: number;
  queue: string;
  worker: string | null;
  exitCode: number | null;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface RunChange {
  xid: string;
  dagId: string;
  runId: string;
  state: string;
  runType: string;
  logicalDate: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface WorkerChange {
  xid: string;
  name: string;
  hostname: string;
  state: string;
  queues: string[];
  concurrency: number;
  running: { tiId: number; tryNumber: number }[];
  gpus: number;
  processed: number;
  failed: number;
  lastHeartbeatAt: Date;
}

/** A DAG as the live feed shows it. */
export interface DagChange {
  xid: string;
  dagId: string;
  isPaused: boolean;
  isActive: boolean;
  latestVersion: string;
}

/** What changed from a cursor on: see {@link ChangeFeedRepository.read}. */
export interface ChangeBatch {
  /**
   * The next cursor: every transaction below it had ended before the rows were read, so
   * every change they made is in this batch (or an earlier one). Rows of later transactions
   * may be in this batch too, and will be read again from this cursor.
   */
  horizon: string;
  tis: TiChange[];
  runs: RunChange[];
  workers: WorkerChange[];
  dags: DagChange[];
  /** The transaction that last changed the import errors, when at or after the cursor. */
  importErrors: string | null;
  /** A table had more than `limit` changed rows: the batch is incomplete. */
  truncated: boolean;
}

const XID = /^\d{1,20}$/;

/** Thrown for a cursor that is not a transaction id (a forged or garbled `Last-Event-ID`). */
export class InvalidChangeCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`change cursor ${JSON.stringify(cursor.slice(0, 40))} is not a transaction id (digits only)`);
    this.name = 'InvalidChangeCursorError';
  }
}

const date = (v: unknown): Date | null => (v == null ? null : new Date(v as string));

/**
 * Reads the changes the live feed publishes, by transaction id (`change_xid`, set by
 * triggers; see the ChangeFeed and DagChangeFeed migrations). Several webserver processes may each poll; the
 * writers pay one indexed column per change and nothing else.
 */
export class ChangeFeedRepository {
  constructor(private readonly db: Database) {}

  /** The cursor that starts a feed now: changes from transactions still running, and later ones. */
  async start(): Promise<string> {
    const [row] = await this.db.query(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon`);
    return row.horizon;
  }

  /**
   * The rows changed by transactions at or after `cursor`, oldest first, at most `limit`
   * per table, in one round trip. The horizon is read first, so no transaction below it
   * can commit after the rows are read.
   * @throws InvalidChangeCursorError when `cursor` is not a decimal transaction id.
   */
  async read(cursor: string, limit = 2000): Promise<ChangeBatch> {
    if (!XID.test(cursor)) throw new InvalidChangeCursorError(cursor);
    const n = Math.max(1, Math.floor(limit)) + 1;
    const [[h], tis, runs, workers, dags, importErrors] = await this.db.queryMany(
      `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon;
       SELECT t.change_xid::text AS xid, t.id, r.dag_id, r.run_id, t.task_id, t.state, t.try_number, t.max_tries, t.queue,
              t.worker, t.exit_code, t.started_at, t.ended_at
         FROM task_instance t JOIN dag_run r ON r.id = t.run_pk
         WHERE t.change_xid >= '${cursor}'::xid8 ORDER BY t.change_xid, t.id LIMIT ${n};
       SELECT change_xid::text AS xid, dag_id, run_id, state, run_type, logical_date, started_at, ended_at
         FROM dag_run WHERE change_xid >= '${cursor}'::xid8 ORDER BY change_xid, id LIMIT ${n};
       SELECT change_xid::text AS xid, name, hostname, state, queues, concurrency, running, gpus, processed, failed, last_heartbeat_at
         FROM worker WHERE change_xid >= '${cursor}'::xid8 ORDER BY change_xid, name LIMIT ${n};
       SELECT change_xid::text AS xid, dag_id, is_paused, is_active, latest_version
         FROM dag WHERE change_xid >= '${cursor}'::xid8 ORDER BY change_xid, dag_id LIMIT ${n};
       SELECT change_xid::text AS xid FROM import_error_change WHERE change_xid >= '${cursor}'::xid8`,
    );
    const truncated = tis.length === n || runs.length === n || workers.length === n || dags.length === n;
    return {
      horizon: h.horizon,
      truncated,
      tis: tis.slice(0, n - 1).map((r: any) => ({
        xid: r.xid, tiId: Number(r.id), dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, state: r.state,
        tryNumber: r.try_number, maxTries: r.max_tries, queue: r.queue, worker: r.worker, exitCode: r.exit_code,
        startedAt: date(r.started_at), endedAt: date(r.ended_at),
      })),
      runs: runs.slice(0, n - 1).map((r: any) => ({
        xid: r.xid, dagId: r.dag_id, runId: r.run_id, state: r.state, runType: r.run_type, logicalDate: new Date(r.logical_date),
        startedAt: date(r.started_at), endedAt: date(r.ended_at),
      })),
      workers: workers.slice(0, n - 1).map((r: any) => ({
        xid: r.xid, name: r.name, hostname: r.hostname, state: r.state, queues: r.queues, concurrency: r.concurrency,
        running: r.running, gpus: r.gpus, processed: r.processed, failed: r.failed, lastHeartbeatAt: new Date(r.last_heartbeat_at),
      })),
      dags: dags.slice(0, n - 1).map((r: any) => ({
        xid: r.xid, dagId: r.dag_id, isPaused: r.is_paused, isActive: r.is_active, latestVersion: r.latest_version,
      })),
      importErrors: importErrors[0]?.xid ?? null,
    };
  }
}
