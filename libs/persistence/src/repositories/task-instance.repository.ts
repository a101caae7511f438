import { assertSteps, type SerializedDag, type TiState } from '@swarmflow/core';
import type { Database, Queryable } from '../database';
import { TASK_TRY_COLUMNS, TRY_OF_HISTORY } from '../migrations/1764950000000-task-try';
import type { TaskInstance, TiTransition, TryFacts } from '../records';
import type { OutboxMessage } from './outbox.repository';
import { toTaskInstance } from './row-mappers';
import type { LogBatchRow } from './task-log.repository';
import type { TaskResultRow } from './task-result.repository';

/** One recorded transition of a task instance (see {@link TaskInstanceRepository.history}). */
export interface TiHistoryRow extends TryFacts {
  tryNumber: number;
  from: TiState;
  to: TiState;
  reason: string | null;
  at: Date;
}

/**
 * `task_try` keeps a try once it stops being its instance's own (`task_instance` holds the
 * current one): the next try is queued (the step of try n + 1 into `queued` settles try n),
 * or the instance is cleared or scheduled again at try n. A try's later steps never come after
 * those, so its row is then complete; a plain run (queued 1 → running → success) supersedes
 * nothing. Rebuilt from the try's history rows, as the migration that made the table folded
 * the history in.
 */
const REFRESH_TRIES = `
  INSERT INTO task_try (${TASK_TRY_COLUMNS})
  ${TRY_OF_HISTORY} JOIN unnest($1::bigint[], $2::int[]) AS s(ti_id, try_number) ON h.ti_id = s.ti_id AND h.try_number = s.try_number
  GROUP BY h.ti_id, h.try_number
  ON CONFLICT (ti_id, try_number) DO UPDATE SET state = EXCLUDED.state, worker = EXCLUDED.worker, hostname = EXCLUDED.hostname,
    exit_code = EXCLUDED.exit_code, reason = EXCLUDED.reason, queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at`;

/** The tries these history rows supersede (see {@link REFRESH_TRIES}), each once. Pure. */
export function supersededTries(history: { id: number; to: TiState; tryNumber: number }[]): { tiId: number; tryNumber: number }[] {
  const out = new Map<string, { tiId: number; tryNumber: number }>();
  for (const h of history) {
    const n = h.to === 'queued' ? h.tryNumber - 1 : h.to === 'none' || h.to === 'scheduled' ? h.tryNumber : 0;
    if (n > 0) out.set(`${h.id}:${n}`, { tiId: h.id, tryNumber: n });
  }
  return [...out.values()];
}

/** Scheduled candidates by priority, and queued + running usage per pool (slots) and per DAG. */
export interface DispatchView {
  /** Scheduled instances by priority, without those of paused DAGs. */
  candidates: TaskInstance[];
  poolSlots: Map<string, number>;
  perDag: Map<string, number>;
  /** Paused DAGs: their tasks stay scheduled until the DAG is unpaused. */
  paused: Set<string>;
}

/** Some transitions of a committing write did not apply (their rows changed): the transaction was rolled back. */
export class TransitionsNotAppliedError extends Error {
  /** @param what set when a guard other than the task instances' failed (a run's counter, the scheduler epoch) */
  constructor(readonly tiIds: number[], what?: string) {
    super(what ?? `task instance(s) ${tiIds.slice(0, 5).join(', ')}${tiIds.length > 5 ? ', …' : ''} changed before the write`);
    this.name = 'TransitionsNotAppliedError';
  }
}

/**
 * Task instances. Every state change goes through `applyTransitions`: each write's steps
 * checked against the core's transition table (`assertSteps`), then a compare-and-set on
 * (state, try_number) plus the history rows, in the caller's transaction.
 */
export class TaskInstanceRepository {
  constructor(private readonly db: Database) {}

  /** Creates the run's task instances in state `none` from the run's pinned DAG version. */
  async createForRun(runPk: number, dag: SerializedDag, q: Queryable): Promise<void> {
    const t = dag.tasks;
    await q.query(`UPDATE dag_run SET ti_seq = ti_seq + 1 WHERE id = $1`, [runPk]);
    await q.query(
      `INSERT INTO task_instance (run_pk, dag_id, task_id, state, try_number, max_tries, queue, pool, pool_slots, priority)
       SELECT $1, $2, u.task_id, 'none', 0, u.max_tries, u.queue, u.pool, u.pool_slots, u.priority
       FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::int[])
         AS u(task_id, max_tries, queue, pool, pool_slots, priority)
       ON CONFLICT (run_pk, task_id) DO NOTHING`,
      [runPk, dag.id, t.map((x) => x.id), t.map((x) => x.retries + 1), t.map((x) => x.queue),
        t.map((x) => x.pool), t.map((x) => x.poolSlots), t.map((x) => x.priority)],
    );
  }

  /**
   * Task instances that end `removed` before the run starts, with a reason (a backfill's
   * tasks left out by its selection); the run's start creates the others.
   */
  async createRemoved(runPk: number, dag: SerializedDag, taskIds: readonly string[], reason: string, now: Date, q: Queryable): Promise<void> {
    const t = dag.tasks.filter((x) => taskIds.includes(x.id));
    if (t.length === 0) return;
    await q.query(
      `INSERT INTO task_instance (run_pk, dag_id, task_id, state, try_number, max_tries, queue, pool, pool_slots, priority, reason, ended_at)
       SELECT $1, $2, u.task_id, 'removed', 0, u.max_tries, u.queue, u.pool, u.pool_slots, u.priority, $9, $10
       FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::int[])
         AS u(task_id, max_tries, queue, pool, pool_slots, priority)
       ON CONFLICT (run_pk, task_id) DO NOTHING`,
      [runPk, dag.id, t.map((x) => x.id), t.map((x) => x.retries + 1), t.map((x) => x.queue),
        t.map((x) => x.pool), t.map((x) => x.poolSlots), t.map((x) => x.priority), reason, now],
    );
  }

  async forRuns(runPks: number[], q: Queryable = this.db): Promise<TaskInstance[]> {
    if (runPks.length === 0) return [];
    const rows = await q.query(`SELECT * FROM task_instance WHERE run_pk = ANY($1) ORDER BY id`, [runPks]);
    return rows.map(toTaskInstance);
  }


  /**
   * Parameterless SQL reading the given task instances, for a transaction's prelude (ids are
   * numbers, inlined); map its rows with {@link fromRows}.
   */
  byIdsSql(ids: readonly number[]): string {
    return `SELECT * FROM task_instance WHERE id IN (${ids.map((id) => Math.trunc(id)).join(',')})`;
  }

  fromRows(rows: unknown[]): TaskInstance[] {
    return rows.map(toTaskInstance);
  }

  async byIds(ids: number[], q: Queryable = this.db): Promise<TaskInstance[]> {
    if (ids.length === 0) return [];
    const rows = await q.query(`SELECT * FROM task_instance WHERE id = ANY($1)`, [ids]);
    return rows.map(toTaskInstance);
  }


  /** up_for_retry instances whose retry delay has passed. */
  async retryDue(now: Date, limit: number, q: Queryable): Promise<TaskInstance[]> {
    const rows = await q.query(
      `SELECT * FROM task_instance WHERE state = 'up_for_retry' AND next_retry_at <= $1 ORDER BY next_retry_at LIMIT $2`,
      [now, limit],
    );
    return rows.map(toTaskInstance);
  }

  /** Every queued instance (no worker has reported its start). */
  async queued(q: Queryable = this.db): Promise<TaskInstance[]> {
    const rows = await q.query(`SELECT * FROM task_instance WHERE state = 'queued' ORDER BY id`);
    return rows.map(toTaskInstance);
  }

  /** Instances running or queued-and-claimed on the given workers. */
  async onWorkers(workers: string[], q: Queryable): Promise<TaskInstance[]> {
    if (workers.length === 0) return [];
    const rows = await q.query(`SELECT * FROM task_instance WHERE state = 'running' AND worker = ANY($1)`, [workers]);
    return rows.map(toTaskInstance);
  }

  /** Running instances whose worker never sent a heartbeat (it died before its first one). */
  async runningOnUnknownWorkers(startedBefore: Date, q: Queryable): Promise<TaskInstance[]> {
    const rows = await q.query(
      `SELECT ti.* FROM task_instance ti LEFT JOIN worker w ON w.name = ti.worker
       WHERE ti.state = 'running' AND w.name IS NULL AND ti.started_at < $1`, [startedBefore],
    );
    return rows.map(toTaskInstance);
  }

  /**
   * What dispatch needs, in one round trip: scheduled instances by priority (at most
   * `limit`), queued + running pool slots per pool, and queued + running instances per DAG.
   */
  async dispatchView(limit: number, q: Queryable): Promise<DispatchView> {
    return this.parseDispatchView((await q.queryMany(this.dispatchViewSql(limit)))[0]);
  }

  /** The statement of {@link dispatchView}, parameterless, to batch with others. */
  dispatchViewSql(limit: number): string {
    // A paused DAG's scheduled instances are left out: however many there are, they must not
    // fill the candidate limit and starve the other DAGs.
    return `SELECT 'c' AS kind, row_to_json(c) AS row FROM
         (SELECT * FROM task_instance WHERE state = 'scheduled' AND dag_id NOT IN (SELECT dag_id FROM dag WHERE is_paused)
          ORDER BY priority DESC, id LIMIT ${Math.trunc(limit)}) c
       UNION ALL
       SELECT 'a', json_build_object('pool', pool, 'dag_id', dag_id, 'slots', sum(pool_slots), 'n', count(*))
       FROM task_instance WHERE state IN ('queued', 'running') GROUP BY pool, dag_id
       UNION ALL
       SELECT 'p', json_build_object('dag_id', dag_id) FROM dag WHERE is_paused`;
  }

  parseDispatchView(rows: any[]): DispatchView {
    const candidates: TaskInstance[] = [];
    const poolSlots = new Map<string, number>();
    const perDag = new Map<string, number>();
    const paused = new Set<string>();
    for (const { kind, row } of rows) {
      if (kind === 'c') candidates.push(toTaskInstance(row));
      else if (kind === 'p') paused.add(row.dag_id);
      else {
        poolSlots.set(row.pool, (poolSlots.get(row.pool) ?? 0) + Number(row.slots));
        perDag.set(row.dag_id, (perDag.get(row.dag_id) ?? 0) + Number(row.n));
      }
    }
    // UNION ALL keeps no order across its parts: restore the candidates' priority order.
    candidates.sort((a, b) => b.priority - a.priority || a.id - b.id);
    return { candidates, poolSlots, perDag, paused };
  }


  /**
   * Applies compare-and-set transitions in one statement and records their history.
   * Returns the ids that applied; the others changed under us and must be re-decided.
   * @throws InvalidTransitionError, TransitionStepsError when a transition's steps are not edges of the table
   */
  async applyTransitions(transitions: TiTransition[], now: Date, q: Queryable): Promise<Set<number>> {
    return (await this.applyWithMessages(transitions, new Map(), now, q)).applied;
  }

  /**
   * `applyTransitions`, and in the same statement the outbox messages (by task instance id)
   * of the transitions that applied. Returns the applied ids and the outbox id of each message.
   */
  async applyWithMessages(
    transitions: TiTransition[], outbox: ReadonlyMap<number, OutboxMessage>, now: Date, q: Queryable,
    also: {
      /**
       * Runs whose `ti_seq` to raise by one in the same statement, each only if it still has
       * the given `seq` (what the caller read under the run's lock, or cached; null: any);
       * with `commit`, one that does not fails the statement (`SFCAS`). `needsEval` also
       * asks for its evaluation (see DagRunRepository.markNeedsEval).
       */
      bumpRuns?: readonly { id: number; seq: number | null; needsEval?: boolean }[];
      /** Log batches to store in the same statement (the last lines that came with `task.finished`). */
      logs?: readonly LogBatchRow[];
      /** Tries' results (outputs, image digest, cache key) to store, each only if its task instance's transition applied. */
      results?: readonly TaskResultRow[];
      /**
       * Raise `scheduler_epoch` (a scheduling iteration's write): `expect` null raises it
       * whatever it is; a number raises it only from that value, and with `commit` another
       * value fails the statement (`SFCAS`). The result then carries the epoch before and after.
       */
      epoch?: { expect: number | null };
      /**
       * Commit the caller's transaction in the same round trip (`tx.queryAndCommit`). Every
       * transition must then apply: if one does not, the statement fails with
       * {@link TransitionsNotAppliedError} and the transaction rolls back.
       */
      commit?: boolean;
    } = {},
  ): Promise<{ applied: Set<number>; outboxIds: Map<number, number>; epoch: { was: number; now: number } | null }> {
    // The edge is asserted here, before anything is sent: a writer that built a transition
    // the table does not allow is a bug, refused whatever the row holds.
    for (const t of transitions) assertSteps(t.before, t.after, t.steps);
    const bumpRuns = also.bumpRuns ?? [];
    const logs = also.logs ?? [];
    const results = also.results ?? [];
    if (transitions.length === 0 && logs.length === 0) return { applied: new Set(), outboxIds: new Map(), epoch: null };
    const col = <T>(f: (t: TiTransition) => T) => transitions.map(f);
    // Each row records the try's worker, hostname, pid and exit code as the step left them:
    // the write's `after`, unless a later step of the same write changed them (`ran`).
    const history = transitions.flatMap((t) => t.steps.map((s) => ({ id: t.before.id, ...s, ran: s.ran ?? t.after })));
    const messages = [...outbox];
    // The scheduler's committing write is prepared (parsing and planning it cost more than
    // running it for a few rows); the other callers (a user's clear) are rare.
    const run = (sql: string, params: unknown[]): Promise<any[]> => {
      if (!also.commit) return q.query(sql, params);
      if (!q.queryAndCommit) throw new TypeError('applyWithMessages: commit needs a transaction');
      return q.queryAndCommit(sql, params, 'swarmflow_apply_and_commit_v6').catch((err: unknown) => {
        const e = err as { code?: string; detail?: string; message?: string };
        if (e.code === 'SFCAS') {
          throw new TransitionsNotAppliedError((e.detail ?? '').split(',').filter(Boolean).map(Number), e.detail ? undefined : e.message);
        }
        throw err;
      });
    };
    // One round trip: the compare-and-set update, the history rows of those that applied,
    // (for dispatch) their task messages into the outbox, the runs' and the scheduler's
    // counters, and the last log lines that came with the events.
    const rows = await run(
      `WITH applied AS (
         UPDATE task_instance t SET state = v.state, try_number = v.try_number, worker = v.worker, hostname = v.hostname,
           pid = v.pid, exit_code = v.exit_code, reason = v.reason, queued_at = v.queued_at, started_at = v.started_at,
           ended_at = v.ended_at, next_retry_at = v.next_retry_at, max_tries = v.max_tries, updated_at = $16::timestamptz,
           change_xid = pg_current_xact_id()
         FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[],
                     $9::int[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::int[])
           AS v(id, from_state, from_try, state, try_number, worker, hostname, pid, exit_code, reason, queued_at,
                started_at, ended_at, next_retry_at, max_tries)
         WHERE t.id = v.id AND t.state = v.from_state AND t.try_number = v.from_try
         RETURNING t.id),
       history AS (
         INSERT INTO task_state_history (ti_id, try_number, from_state, to_state, reason, at, worker, hostname, pid, exit_code)
         SELECT h.ti_id, h.try_number, h.from_state, h.to_state, h.reason, $16::timestamptz, h.worker, h.hostname, h.pid, h.exit_code
         FROM unnest($17::bigint[], $18::int[], $19::text[], $20::text[], $21::text[], $47::text[], $48::text[], $49::int[], $50::int[]) WITH ORDINALITY
           AS h(ti_id, try_number, from_state, to_state, reason, worker, hostname, pid, exit_code, n)
         WHERE h.ti_id IN (SELECT id FROM applied)
         ORDER BY h.n),
       messages AS (
         INSERT INTO outbox (ti_id, exchange, routing_key, payload)
         SELECT m.ti_id, m.exchange, m.routing_key, m.payload
         FROM unnest($22::bigint[], $23::text[], $24::text[], ARRAY(SELECT e FROM jsonb_array_elements($25::jsonb) WITH ORDINALITY AS x(e, i) ORDER BY i))
           WITH ORDINALITY AS m(ti_id, exchange, routing_key, payload, n)
         WHERE m.ti_id IN (SELECT id FROM applied)
         ORDER BY m.n
         RETURNING id, ti_id),
       bumped AS (
         UPDATE dag_run d SET ti_seq = d.ti_seq + 1, needs_eval = d.needs_eval OR e.needs_eval
         FROM unnest($26::bigint[], $31::bigint[], $34::boolean[]) AS e(id, seq, needs_eval)
         WHERE d.id = e.id AND (e.seq IS NULL OR d.ti_seq = e.seq) RETURNING d.id),
       logs AS (
         INSERT INTO task_log (ti_id, try_number, seq, lines)
         SELECT b.ti_id, b.try_number, b.seq, b.lines
         FROM unnest($27::bigint[], $28::int[], $29::int[], ARRAY(SELECT e FROM jsonb_array_elements($30::jsonb) WITH ORDINALITY AS x(e, i) ORDER BY i))
           AS b(ti_id, try_number, seq, lines)),
       results AS (
         INSERT INTO task_result (ti_id, try_number, succeeded, outputs, image, image_digest, cache_key, cached_from_ti, cached_from_try, container_id, gpu_devices, runtime, created_at)
         SELECT x.ti_id, x.try_number, x.succeeded, x.outputs, x.image, x.image_digest, x.cache_key, x.cached_from_ti, x.cached_from_try, x.container_id, x.gpu_devices, x.runtime, $16::timestamptz
         FROM unnest($35::bigint[], $36::int[], $37::boolean[], $38::jsonb[], $39::text[], $40::text[], $41::text[], $42::bigint[], $43::int[], $44::text[], $45::text[], $46::text[])
           AS x(ti_id, try_number, succeeded, outputs, image, image_digest, cache_key, cached_from_ti, cached_from_try, container_id, gpu_devices, runtime)
         WHERE x.ti_id IN (SELECT id FROM applied)
         ON CONFLICT (ti_id, try_number) DO NOTHING),
       epoch AS (
         UPDATE scheduler_epoch SET n = n + 1 WHERE id = 1 AND $33::boolean AND ($32::bigint IS NULL OR n = $32::bigint)
         RETURNING n)
       ${also.commit
    // One row whatever applied, so the checks always run (OFFSET 0 keeps the planner from
    // pulling them into the join); each raises unless it holds.
    ? `SELECT a.id, m.id AS outbox_id, g.epoch
       FROM (SELECT swarmflow_require_applied($1::bigint[], ARRAY(SELECT id FROM applied))
                AND swarmflow_require(cardinality($26::bigint[]) = (SELECT count(*) FROM bumped), 'a run changed during the iteration')
                AND swarmflow_require(NOT $33::boolean OR EXISTS (SELECT 1 FROM epoch), 'another scheduler wrote during the iteration') AS ok,
               (SELECT n FROM epoch) AS epoch
             OFFSET 0) g
       LEFT JOIN applied a ON g.ok LEFT JOIN messages m ON m.ti_id = a.id`
    : `SELECT a.id, m.id AS outbox_id, (SELECT n FROM epoch) AS epoch FROM applied a LEFT JOIN messages m ON m.ti_id = a.id`}`,
      [
        col((t) => t.before.id), col((t) => t.before.state), col((t) => t.before.tryNumber),
        col((t) => t.after.state), col((t) => t.after.tryNumber), col((t) => t.after.worker),
        col((t) => t.after.hostname), col((t) => t.after.pid), col((t) => t.after.exitCode),
        col((t) => t.after.reason), col((t) => t.after.queuedAt), col((t) => t.after.startedAt),
        col((t) => t.after.endedAt), col((t) => t.after.nextRetryAt), col((t) => t.after.maxTries),
        now,
        history.map((h) => h.id), history.map((h) => h.tryNumber), history.map((h) => h.from), history.map((h) => h.to),
        history.map((h) => h.reason),
        messages.map(([id]) => id), messages.map(([, m]) => m.exchange), messages.map(([, m]) => m.routingKey),
        jsonArray(messages.map(([, m]) => m.payload)),
        bumpRuns.map((r) => r.id),
        logs.map((b) => b.tiId), logs.map((b) => b.tryNumber), logs.map((b) => b.seq), jsonArray(logs.map((b) => b.lines)),
        bumpRuns.map((r) => r.seq),
        also.epoch?.expect ?? null, also.epoch !== undefined,
        bumpRuns.map((r) => r.needsEval === true),
        results.map((x) => x.tiId), results.map((x) => x.tryNumber), results.map((x) => x.succeeded),
        results.map((x) => (x.outputs === null ? null : JSON.stringify(x.outputs))), results.map((x) => x.image),
        results.map((x) => x.imageDigest), results.map((x) => x.cacheKey), results.map((x) => x.cachedFromTi),
        results.map((x) => x.cachedFromTry),
        results.map((x) => x.containerId), results.map((x) => (x.gpuDevices === null ? null : x.gpuDevices.join(','))), results.map((x) => x.runtime),
        history.map((h) => h.ran.worker), history.map((h) => h.ran.hostname), history.map((h) => h.ran.pid), history.map((h) => h.ran.exitCode),
      ],
    );
    const applied = new Set<number>();
    const outboxIds = new Map<number, number>();
    let epoch: { was: number; now: number } | null = null;
    for (const r of rows) {
      if (r.epoch != null) epoch = { was: Number(r.epoch) - 1, now: Number(r.epoch) };
      if (r.id == null) continue;
      applied.add(Number(r.id));
      if (r.outbox_id != null) outboxIds.set(Number(r.id), Number(r.outbox_id));
    }
    const superseded = supersededTries(history).filter((t) => applied.has(t.tiId));
    // After a committed write (the scheduler's) this runs on the same connection, on its own:
    // only a retry or a clear gets here, and the plain path stays one round trip. A scheduler
    // gone between the two leaves that try out of the tries table (its history keeps it: the
    // try page reads that).
    if (superseded.length > 0) await q.query(REFRESH_TRIES, [superseded.map((t) => t.tiId), superseded.map((t) => t.tryNumber)]);
    return { applied, outboxIds, epoch };
  }

  /**
   * The recorded transitions of one task instance, oldest first, each with the instance's
   * worker, hostname, pid and exit code right after it (null in rows recorded before those
   * columns existed, and while the instance had none: scheduled, queued, cleared).
   */
  async history(tiId: number): Promise<TiHistoryRow[]> {
    const rows = await this.db.query(`SELECT * FROM task_state_history WHERE ti_id = $1 ORDER BY id`, [tiId]);
    return rows.map((r: any) => ({
      tryNumber: r.try_number, from: r.from_state, to: r.to_state, reason: r.reason, at: new Date(r.at),
      worker: r.worker, hostname: r.hostname, pid: r.pid, exitCode: r.exit_code,
    }));
  }
}

/**
 * JSON values as one JSON array, the parameter the statement splits into rows: a JSON
 * text (one literal) rather than a `jsonb[]`, whose array syntax would escape every quote
 * and backslash of each value once more (a task message is JSON inside JSON already).
 */
function jsonArray(values: readonly unknown[]): string {
  return JSON.stringify(values);
}
