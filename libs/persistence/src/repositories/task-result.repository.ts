import type { Database, Queryable } from '../database';

/** What a try left besides its state (see the `task_result` table); written with the try's end. */
export interface TaskResultRow {
  tiId: number;
  tryNumber: number;
  succeeded: boolean;
  /** What it wrote to its output file; null = nothing. */
  outputs: Record<string, unknown> | null;
  /** A container try: the image reference it was given, and the digest that ran. */
  image: string | null;
  imageDigest: string | null;
  /** A cacheable task's cache key. */
  cacheKey: string | null;
  /** A `cached` task instance: the try it took its outputs from. */
  cachedFromTi: number | null;
  cachedFromTry: number | null;
  /** A container try: the container's id, the GPU devices it was given, the OCI runtime (null = Docker's default). */
  containerId: string | null;
  gpuDevices: string[] | null;
  runtime: string | null;
}

/** A stored result, with the task instance and run it belongs to. */
export interface TaskResult extends TaskResultRow {
  dagId: string;
  runId: string;
  runPk: number;
  taskId: string;
  /** False once `tasks clear --latest-images` let the run take newer images. */
  imagePinned: boolean;
  invalidatedAt: Date | null;
  createdAt: Date;
  /** A cached task instance's source try, named (null when it was not read, or is gone). */
  cachedFromRef: { dagId: string; runId: string; taskId: string } | null;
}

/** A cache entry's filter: `swarmflow cache list|invalidate`. */
export interface CacheFilter {
  dagId?: string;
  taskId?: string;
  key?: string;
  limit?: number;
}

const SELECT = `SELECT r.*, t.dag_id, t.task_id, t.run_pk, d.run_id,
    st.dag_id AS source_dag_id, st.task_id AS source_task_id, sd.run_id AS source_run_id
  FROM task_result r JOIN task_instance t ON t.id = r.ti_id JOIN dag_run d ON d.id = t.run_pk
  LEFT JOIN task_instance st ON st.id = r.cached_from_ti LEFT JOIN dag_run sd ON sd.id = st.run_pk`;

function toResult(r: any): TaskResult {
  return {
    tiId: Number(r.ti_id), tryNumber: r.try_number, succeeded: r.succeeded, outputs: r.outputs ?? null,
    image: r.image ?? null, imageDigest: r.image_digest ?? null, cacheKey: r.cache_key ?? null,
    cachedFromTi: r.cached_from_ti == null ? null : Number(r.cached_from_ti), cachedFromTry: r.cached_from_try ?? null,
    containerId: r.container_id ?? null, gpuDevices: r.gpu_devices == null ? null : String(r.gpu_devices).split(',').filter((d) => d !== ''),
    runtime: r.runtime ?? null,
    dagId: r.dag_id, runId: r.run_id, runPk: Number(r.run_pk), taskId: r.task_id, imagePinned: r.image_pinned,
    invalidatedAt: r.invalidated_at ? new Date(r.invalidated_at) : null, createdAt: new Date(r.created_at),
    cachedFromRef: r.source_dag_id ? { dagId: r.source_dag_id, runId: r.source_run_id, taskId: r.source_task_id } : null,
  };
}

/** Tries' outputs, image digests and cache keys; the cache's entries. */
export class TaskResultRepository {
  constructor(private readonly db: Database) {}

  /**
   * The latest result of each task instance of the runs (the try that counts for its
   * downstream tasks), a cached one's source named (where its artefacts are).
   */
  async latestForRuns(runPks: readonly number[], q: Queryable = this.db): Promise<TaskResult[]> {
    if (runPks.length === 0) return [];
    const rows = await q.query(
      `SELECT DISTINCT ON (r.ti_id) r.*, t.dag_id, t.task_id, t.run_pk, d.run_id,
         st.dag_id AS source_dag_id, st.task_id AS source_task_id, sd.run_id AS source_run_id
       FROM task_result r JOIN task_instance t ON t.id = r.ti_id JOIN dag_run d ON d.id = t.run_pk
       LEFT JOIN task_instance st ON st.id = r.cached_from_ti LEFT JOIN dag_run sd ON sd.id = st.run_pk
       WHERE t.run_pk = ANY($1::bigint[]) ORDER BY r.ti_id, r.try_number DESC`,
      [runPks],
    );
    return rows.map(toResult);
  }

  /** Every result of one task instance, newest try first. */
  async forTaskInstance(tiId: number, q: Queryable = this.db): Promise<TaskResult[]> {
    return (await q.query(`${SELECT} WHERE r.ti_id = $1 ORDER BY r.try_number DESC`, [tiId])).map(toResult);
  }

  /** Every result of a run's task instances (all tries). */
  async forRun(runPk: number, q: Queryable = this.db): Promise<TaskResult[]> {
    return (await q.query(`${SELECT} WHERE t.run_pk = $1 ORDER BY t.task_id, r.try_number`, [runPk])).map(toResult);
  }

  /** The newest successful, executed (not itself cached), valid try with each of the keys. */
  async findCached(keys: readonly string[], q: Queryable = this.db): Promise<Map<string, TaskResult>> {
    if (keys.length === 0) return new Map();
    const rows = await q.query(
      `SELECT DISTINCT ON (r.cache_key) r.*, t.dag_id, t.task_id, t.run_pk, d.run_id
       FROM task_result r JOIN task_instance t ON t.id = r.ti_id JOIN dag_run d ON d.id = t.run_pk
       WHERE r.cache_key = ANY($1::char(64)[]) AND r.succeeded AND r.cached_from_try IS NULL AND r.invalidated_at IS NULL
       ORDER BY r.cache_key, r.created_at DESC`,
      [keys],
    );
    return new Map(rows.map((r: any) => [r.cache_key, toResult(r)]));
  }

  /**
   * The cache entries of these tries (a worker confirmed a hit of one: see TaskMessage.cacheCheck),
   * by `<tiId>:<tryNumber>`: only a successful, executed, valid try is one.
   */
  async cacheEntries(tries: readonly { tiId: number; tryNumber: number }[], q: Queryable = this.db): Promise<Map<string, TaskResult>> {
    if (tries.length === 0) return new Map();
    const rows = await q.query(
      `${SELECT} JOIN unnest($1::bigint[], $2::int[]) AS w(ti_id, try_number) ON w.ti_id = r.ti_id AND w.try_number = r.try_number
       WHERE r.cache_key IS NOT NULL AND r.succeeded AND r.cached_from_try IS NULL AND r.invalidated_at IS NULL`,
      [tries.map((t) => t.tiId), tries.map((t) => t.tryNumber)],
    );
    return new Map(rows.map((r: any) => { const t = toResult(r); return [`${t.tiId}:${t.tryNumber}`, t]; }));
  }

  /** Valid cache entries (executed successful tries with a key), newest first. */
  async listCache(filter: CacheFilter): Promise<TaskResult[]> {
    const rows = await this.db.query(
      `${SELECT} WHERE r.cache_key IS NOT NULL AND r.succeeded AND r.cached_from_try IS NULL AND r.invalidated_at IS NULL
         AND ($1::text IS NULL OR t.dag_id = $1) AND ($2::text IS NULL OR t.task_id = $2) AND ($3::text IS NULL OR r.cache_key = $3)
       ORDER BY r.created_at DESC LIMIT $4`,
      [filter.dagId ?? null, filter.taskId ?? null, filter.key ?? null, filter.limit ?? 100],
    );
    return rows.map(toResult);
  }

  /** Ends the matching cache entries (their tries stay, with their outputs); returns how many. */
  async invalidate(filter: Omit<CacheFilter, 'limit'>, now: Date): Promise<number> {
    const rows = await this.db.query(
      `UPDATE task_result r SET invalidated_at = $4 FROM task_instance t
       WHERE t.id = r.ti_id AND r.cache_key IS NOT NULL AND r.succeeded AND r.cached_from_try IS NULL AND r.invalidated_at IS NULL
         AND ($1::text IS NULL OR t.dag_id = $1) AND ($2::text IS NULL OR t.task_id = $2) AND ($3::text IS NULL OR r.cache_key = $3)
       RETURNING r.ti_id`,
      [filter.dagId ?? null, filter.taskId ?? null, filter.key ?? null, now],
    );
    return rows.length;
  }

  /**
   * Ends the cache entries of these task instances' tries (a user marked them failed: what
   * they produced must not be taken by other runs); their rows stay.
   */
  async invalidateForTaskInstances(tiIds: readonly number[], now: Date, q: Queryable = this.db): Promise<void> {
    if (tiIds.length === 0) return;
    await q.query(
      `UPDATE task_result SET invalidated_at = $2 WHERE ti_id = ANY($1::bigint[]) AND cache_key IS NOT NULL AND invalidated_at IS NULL`,
      [tiIds, now],
    );
  }

  /** Lets a run's next container tries take the images' latest digests (`tasks clear --latest-images`). */
  async unpinImages(runPk: number, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE task_result r SET image_pinned = false FROM task_instance t
       WHERE t.id = r.ti_id AND t.run_pk = $1 AND r.image_digest IS NOT NULL AND r.image_pinned`,
      [runPk],
    );
  }
}

