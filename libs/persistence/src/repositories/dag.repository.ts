import { pausedReason, type SerializedDag } from '@swarmflow/core';

/** The transaction-scoped advisory lock of a scheduling iteration: one at a time across HA schedulers. */
export const SCHEDULING_LOCK = 72_810_001;
import type { Database, Queryable } from '../database';
import type { DagRecord, ImportError } from '../records';
import { toDagRecord } from './row-mappers';

/** A value the database cannot take (SQLSTATE class 22: too long, a NUL, a bad escape) or a constraint it breaks (23). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** One stored version of a DAG. */
export interface DagVersionInfo {
  hash: string;
  /** When a parse first stored it. */
  firstSeenAt: Date;
  fileloc: string;
  taskCount: number;
}

/** DAGs, their content-hashed versions and the import errors of DAG files. */
export class DagRepository {
  /** Versions never change once written, so they are cached forever. */
  private readonly versions = new Map<string, SerializedDag>();

  constructor(private readonly db: Database) {}

  /**
   * Records one parse of the DAGs folder: new versions, the DAGs' latest version, the
   * import errors of broken files; DAGs no longer defined by any file become inactive.
   * The DAGs of a file that failed to import keep their last good version.
   */
  async recordParse(
    parsed: { dag: SerializedDag; hash: string }[], errors: { fileloc: string; message: string }[], now: Date,
  ): Promise<{ newVersions: string[]; refused: { fileloc: string; message: string }[] }> {
    return this.db.transaction(async (tx) => {
      const newVersions: string[] = [];
      const refused: { fileloc: string; message: string }[] = [];
      const stored: { dag: SerializedDag; hash: string }[] = [];
      const byFile = new Map<string, { dag: SerializedDag; hash: string }[]>();
      for (const p of parsed) byFile.set(p.dag.fileloc, [...(byFile.get(p.dag.fileloc) ?? []), p]);
      for (const [fileloc, dags] of byFile) {
        // One file's DAGs in a savepoint: what the database refuses (a value it cannot
        // store) becomes that file's import error instead of failing the whole parse.
        await tx.query('SAVEPOINT record_file');
        const versions: string[] = [];
        try {
          for (const { dag, hash } of dags) {
            await tx.query(
              `INSERT INTO dag (dag_id, fileloc, latest_version, schedule, first_seen_at, last_parsed_at, is_active)
               VALUES ($1, $2, $3, $4, $5, $5, true)
               ON CONFLICT (dag_id) DO UPDATE SET fileloc = $2, latest_version = $3, schedule = $4, last_parsed_at = $5, is_active = true`,
              [dag.id, dag.fileloc, hash, dag.schedule, now],
            );
            const inserted = await tx.query(
              `INSERT INTO dag_version (dag_id, version_hash, serialized, created_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING RETURNING version_hash`,
              [dag.id, hash, JSON.stringify(dag), now],
            );
            if (inserted.length > 0) versions.push(`${dag.id}@${hash.slice(0, 12)}`);
          }
          await tx.query('RELEASE SAVEPOINT record_file');
          newVersions.push(...versions);
          stored.push(...dags);
        } catch (err) {
          if (!isDataError(err)) throw err;
          await tx.query('ROLLBACK TO SAVEPOINT record_file');
          refused.push({
            fileloc,
            message: `${fileloc}: the database refused its DAGs: ${(err as Error).message}. Fix: check the DAG ids (at most 250 characters) and the values of the DAG file.`,
          });
        }
      }
      const allErrors = [...errors, ...refused];
      // The live feed's import errors cursor moves only when what a reader sees changes.
      const before: { fileloc: string; message: string }[] = await tx.query(`SELECT fileloc, message FROM import_error`);
      const seen = new Map(before.map((e) => [e.fileloc, e.message]));
      const after = new Map(allErrors.map((e) => [e.fileloc, e.message]));
      if (seen.size !== after.size || [...after].some(([file, message]) => seen.get(file) !== message)) {
        await tx.query(`UPDATE import_error_change SET change_xid = pg_current_xact_id() WHERE id = 1`);
      }
      const brokenFiles = allErrors.map((e) => e.fileloc);
      await tx.query(
        `UPDATE dag SET is_active = false WHERE is_active AND NOT (dag_id = ANY($1)) AND NOT (fileloc = ANY($2))`,
        [stored.map((p) => p.dag.id), brokenFiles],
      );
      await tx.query(`DELETE FROM import_error WHERE NOT (fileloc = ANY($1))`, [brokenFiles]);
      for (const e of allErrors) {
        await tx.query(
          `INSERT INTO import_error (fileloc, message, at) VALUES ($1, $2, $3)
           ON CONFLICT (fileloc) DO UPDATE SET message = $2, at = $3`,
          [e.fileloc, e.message, now],
        );
      }
      return { newVersions, refused };
    });
  }

  async list(includeInactive = false): Promise<DagRecord[]> {
    const rows = await this.db.query(`SELECT * FROM dag ${includeInactive ? '' : 'WHERE is_active'} ORDER BY dag_id`);
    return rows.map(toDagRecord);
  }

  async get(dagId: string, q: Queryable = this.db): Promise<DagRecord | null> {
    const rows = await q.query(`SELECT * FROM dag WHERE dag_id = $1`, [dagId]);
    return rows[0] ? toDagRecord(rows[0]) : null;
  }

  async version(dagId: string, hash: string, q: Queryable = this.db): Promise<SerializedDag> {
    const dag = await this.findVersion(dagId, hash, q);
    if (!dag) throw new Error(`DAG version ${dagId}@${hash} is missing from the database`);
    return dag;
  }

  /** A version of a DAG by its hash (what a run is pinned to), or null when there is none. */
  async findVersion(dagId: string, hash: string, q: Queryable = this.db): Promise<SerializedDag | null> {
    const key = `${dagId}@${hash}`;
    const cached = this.versions.get(key);
    if (cached) return cached;
    const rows = await q.query(`SELECT serialized FROM dag_version WHERE dag_id = $1 AND version_hash = $2`, [dagId, hash]);
    if (!rows[0]) return null;
    const dag = rows[0].serialized as SerializedDag;
    this.versions.set(key, dag);
    return dag;
  }

  /** The DAG's versions, newest first: hash, when first seen, file, task count. */
  async listVersions(dagId: string, q: Queryable = this.db): Promise<DagVersionInfo[]> {
    const rows = await q.query(
      `SELECT version_hash, created_at, serialized->>'fileloc' AS fileloc, jsonb_array_length(serialized->'tasks') AS tasks
       FROM dag_version WHERE dag_id = $1 ORDER BY created_at DESC, version_hash`, [dagId],
    );
    return rows.map((r: any) => ({ hash: r.version_hash, firstSeenAt: new Date(r.created_at), fileloc: r.fileloc, taskCount: Number(r.tasks) }));
  }

  /**
   * Pauses or unpauses a DAG. In the same statement it raises `scheduler_epoch`, so a
   * scheduler deciding from memory reads the paused DAGs again before it queues anything,
   * and gives the DAG's scheduled task instances the paused reason (or takes it back).
   * It holds the scheduling lock: a pause landing between an iteration's read and its
   * write would otherwise be counted into the epoch that iteration takes for its own.
   */
  async setPaused(dagId: string, paused: boolean): Promise<DagRecord | null> {
    const rows = await this.db.transaction((tx) => tx.query(
      `WITH d AS (UPDATE dag SET is_paused = $2 WHERE dag_id = $1 RETURNING *),
         epoch AS (UPDATE scheduler_epoch SET n = n + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM d)),
         held AS (UPDATE task_instance SET reason = CASE WHEN $2 THEN $3 END
                  WHERE dag_id = $1 AND state = 'scheduled' AND reason IS DISTINCT FROM CASE WHEN $2 THEN $3 END
                    AND (reason IS NULL OR reason = $3 OR $2) AND EXISTS (SELECT 1 FROM d))
       SELECT * FROM d`,
      [dagId, paused, pausedReason(dagId)],
    ), `SELECT pg_advisory_xact_lock(${SCHEDULING_LOCK})`);
    return rows[0] ? toDagRecord(rows[0]) : null;
  }

  /** Active, unpaused DAGs with a schedule. */
  async scheduled(q: Queryable = this.db): Promise<DagRecord[]> {
    const rows = await q.query(`SELECT * FROM dag WHERE is_active AND NOT is_paused AND schedule IS NOT NULL`);
    return rows.map(toDagRecord);
  }

  async setLastScheduledDate(dagId: string, date: Date, q: Queryable): Promise<void> {
    await q.query(`UPDATE dag SET last_scheduled_date = $2 WHERE dag_id = $1`, [dagId, date]);
  }

  async importErrors(): Promise<ImportError[]> {
    const rows = await this.db.query(`SELECT * FROM import_error ORDER BY fileloc`);
    return rows.map((r: any) => ({ fileloc: r.fileloc, message: r.message, at: new Date(r.at) }));
  }
}
