// Seeds a migrated database with the big views of issue 16 (a DAG list of 1,000 DAGs, a grid
// of 100 runs × 200 tasks) in a few bulk statements, for the browser tests that time them
// against the real webserver: running 20,000 tasks would take minutes.
import { dagHash, validateDag, type SerializedDag } from '@swarmflow/core';
import type { Queryable } from '../database';

export interface BigViews {
  /** The list's DAGs (`dag_0000` …), besides the grid's DAG. Default 999: with it, 1,000 DAGs. */
  dags?: number;
  /** The grid's DAG: its id (default `big`), runs and tasks (default 100 × 200). */
  grid?: { dagId?: string; runs?: number; tasks?: number };
  /** The newest run's logical date; older runs are an hour apart. Default: the hour before now. */
  now?: Date;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Writes, as the DAG processor, the scheduler and the workers would have left them:
 * - `dags` DAGs `dag_0000` … of 3 tasks, with tags, a description, a schedule on two in
 *   three, one in seven paused, an import error on the files of one in 97, and 5 finished
 *   runs each (the list shows the last ones; their task instances, which the list does not
 *   read, are left out);
 * - the grid's DAG: a chain of `tasks` process tasks (`task_000` …, one retry each) and
 *   `runs` manual runs `run_0` (the newest: running, half its tasks done) … `run_<runs-1>`,
 *   every tenth failed (one task failed on its second try, its downstream upstream_failed),
 *   the others succeeded; one task instance in seven on its second try; durations of 2–9 s.
 * The DAG versions are made by the validator and hashed as the parser does.
 */
export async function seedBigViews(db: Queryable, options: BigViews = {}): Promise<{ dagIds: string[]; gridDagId: string; runIds: string[]; taskIds: string[] }> {
  const count = options.dags ?? 999;
  const gridDagId = options.grid?.dagId ?? 'big';
  const runs = options.grid?.runs ?? 100;
  const tasks = options.grid?.tasks ?? 200;
  const now = options.now ?? new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000);

  const taskIds = Array.from({ length: tasks }, (_, t) => `task_${pad(t, 3)}`);
  const grid = validateDag({
    id: gridDagId, description: `${runs} runs × ${tasks} tasks`, tags: ['big'],
    tasks: taskIds.map((id, t) => ({ id, command: `echo ${id}`, retries: 1, retryDelay: '10s', upstream: t ? [taskIds[t - 1]] : [] })),
  }, `${gridDagId}.ts`);
  const small: SerializedDag[] = Array.from({ length: count }, (_, i) => validateDag({
    id: `dag_${pad(i, 4)}`, description: `Generated DAG number ${i}`, schedule: i % 3 ? '0 3 * * *' : null,
    tags: [`team${i % 10}`, i % 2 ? 'ml' : 'etl'],
    tasks: [{ id: 'extract', command: 'true' }, { id: 'transform', command: 'true', upstream: ['extract'] }, { id: 'load', command: 'true', upstream: ['transform'] }],
  }, `dags/f${i % 50}.ts`));
  const all = [grid, ...small];
  const hashes = all.map(dagHash);

  await db.query(
    `WITH d AS (
       INSERT INTO dag (dag_id, fileloc, latest_version, schedule, is_paused, first_seen_at, last_parsed_at, is_active)
       SELECT id, fileloc, hash, schedule, paused, $6, $6, true FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[]) AS u(id, fileloc, hash, schedule, paused)
       RETURNING dag_id, latest_version)
     INSERT INTO dag_version (dag_id, version_hash, serialized, created_at)
     SELECT d.dag_id, d.latest_version, v.serialized::jsonb, $6 FROM d JOIN unnest($1::text[], $7::text[]) AS v(id, serialized) ON v.id = d.dag_id`,
    [all.map((d) => d.id), all.map((d) => d.fileloc), hashes, all.map((d) => d.schedule), all.map((_, i) => i > 0 && (i - 1) % 7 === 0), now, all.map((d) => JSON.stringify(d))],
  );
  await db.query(
    `INSERT INTO import_error (fileloc, message, at)
     SELECT DISTINCT fileloc, fileloc || ':12: SyntaxError: Unexpected token', $2::timestamptz FROM unnest($1::text[]) AS f(fileloc)`,
    [small.filter((_, i) => i % 97 === 0).map((d) => d.fileloc), now],
  );
  // The list's runs: 5 a DAG, a day apart, the newest last created; finished (success, one in four failed).
  await db.query(
    `INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date, needs_eval, created_at, started_at, ended_at)
     SELECT d.dag_id, 'scheduled__' || to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), d.latest_version, 'scheduled',
            CASE WHEN (n + k) % 4 = 1 THEN 'failed' ELSE 'success' END, at, false, at, at + interval '1 second', at + interval '1 minute'
     FROM dag d CROSS JOIN generate_series(4, 0, -1) AS k
     CROSS JOIN LATERAL (SELECT $2::timestamptz - k * interval '1 day' AS at, substr(d.dag_id, 5)::int AS n) x
     WHERE d.dag_id <> $1
     ORDER BY d.dag_id, k DESC`,
    [gridDagId, now],
  );
  // The grid: run r's logical date r hours before `now`; created oldest first (the API lists by id).
  // Its tasks run one after another, 10 s apart: task t of run r lasts 2–9 s.
  await db.query(
    `WITH r AS (
       INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date, needs_eval, created_at, started_at, ended_at)
       SELECT $1, 'run_' || r, $2, 'manual', CASE WHEN r = 0 THEN 'running' WHEN r % 10 = 3 THEN 'failed' ELSE 'success' END,
              at, false, at, at + interval '1 second', CASE WHEN r = 0 THEN NULL ELSE at + ($3 * 10 + 1) * interval '1 second' END
       FROM generate_series($4::int - 1, 0, -1) AS r CROSS JOIN LATERAL (SELECT $5::timestamptz - r * interval '1 hour' AS at) x
       ORDER BY r DESC
       RETURNING id, run_id, state, started_at),
     cell AS (
       SELECT r.id AS run_pk, r.started_at, t, substr(r.run_id, 5)::int AS n,
              CASE
                WHEN r.state = 'running' THEN CASE WHEN t < $3 / 2 THEN 'success' WHEN t = $3 / 2 THEN 'running' ELSE 'none' END
                WHEN r.state = 'failed' THEN CASE WHEN t < (substr(r.run_id, 5)::int * 37) % $3 THEN 'success' WHEN t = (substr(r.run_id, 5)::int * 37) % $3 THEN 'failed' ELSE 'upstream_failed' END
                ELSE 'success' END AS state
       FROM r CROSS JOIN generate_series(0, $3 - 1) AS t)
     INSERT INTO task_instance (run_pk, dag_id, task_id, state, try_number, max_tries, queue, pool, pool_slots, priority, worker, hostname, pid, exit_code,
                                queued_at, started_at, ended_at, updated_at)
     SELECT run_pk, $1, 'task_' || lpad(t::text, 3, '0'), state,
            CASE WHEN state IN ('none', 'upstream_failed') THEN 0 WHEN state = 'failed' OR (n + t) % 7 = 0 THEN 2 ELSE 1 END, 2,
            'default', 'default_pool', 1, 0,
            w.worker, w.hostname, w.pid, CASE state WHEN 'success' THEN 0 WHEN 'failed' THEN 1 END,
            w.at - interval '1 second', w.at, CASE WHEN state IN ('success', 'failed') THEN w.at + ((n * 7 + t * 13) % 8 + 2) * interval '1 second' END,
            coalesce(w.at, started_at) + interval '10 seconds'
     FROM cell CROSS JOIN LATERAL (
       SELECT CASE WHEN state IN ('none', 'upstream_failed') THEN NULL ELSE started_at + t * interval '10 seconds' END AS at,
              CASE WHEN state IN ('none', 'upstream_failed') THEN NULL ELSE 'worker-' || (t % 3) END AS worker,
              CASE WHEN state IN ('none', 'upstream_failed') THEN NULL ELSE 'host-' || (t % 3) END AS hostname,
              CASE WHEN state IN ('none', 'upstream_failed') THEN NULL ELSE 1000 + t END AS pid) w
     ORDER BY run_pk, t`,
    [gridDagId, hashes[0], tasks, runs, now],
  );
  return { dagIds: all.map((d) => d.id), gridDagId, runIds: Array.from({ length: runs }, (_, r) => `run_${r}`), taskIds };
}
