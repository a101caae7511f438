import type { MigrationInterface, QueryRunner } from 'typeorm';

/** States a try's step ends it in (as the try page reads an earlier try). */
const ENDS = `('success', 'failed', 'up_for_retry', 'skipped', 'cached')`;

/**
 * One try as its `task_state_history` rows tell it, the way the try page reads an earlier try:
 * its state is what it ended as (a later mark included, not the clear or retry after it), else
 * its latest step's; queued at its first queue step, started at its latest start; ended and its
 * exit code at the step that ended it (from running or queued); its worker and hostname the
 * latest a step kept; its reason the end's (or mark's), else the latest one given.
 */
export const TRY_OF_HISTORY = `
  SELECT h.ti_id, h.try_number,
    COALESCE((array_agg(h.to_state ORDER BY h.id DESC) FILTER (WHERE h.to_state IN ${ENDS}))[1],
             (array_agg(h.to_state ORDER BY h.id DESC))[1]) AS state,
    (array_agg(h.worker ORDER BY h.id DESC) FILTER (WHERE h.worker IS NOT NULL))[1] AS worker,
    (array_agg(h.hostname ORDER BY h.id DESC) FILTER (WHERE h.worker IS NOT NULL))[1] AS hostname,
    (array_agg(h.exit_code ORDER BY h.id DESC) FILTER (WHERE h.from_state IN ('running', 'queued') AND h.to_state IN ${ENDS}))[1] AS exit_code,
    CASE WHEN bool_or(h.to_state IN ${ENDS})
      THEN (array_agg(h.reason ORDER BY h.id DESC) FILTER (WHERE h.to_state IN ${ENDS}))[1]
      ELSE (array_agg(h.reason ORDER BY h.id DESC) FILTER (WHERE h.reason IS NOT NULL))[1] END AS reason,
    (array_agg(h.at ORDER BY h.id) FILTER (WHERE h.to_state = 'queued'))[1] AS queued_at,
    (array_agg(h.at ORDER BY h.id DESC) FILTER (WHERE h.to_state = 'running'))[1] AS started_at,
    COALESCE((array_agg(h.at ORDER BY h.id DESC) FILTER (WHERE h.from_state IN ('running', 'queued') AND h.to_state IN ${ENDS}))[1],
             (array_agg(h.at ORDER BY h.id DESC) FILTER (WHERE h.from_state = 'running' AND h.to_state <> 'running'))[1]) AS ended_at
  FROM task_state_history h`;

export const TASK_TRY_COLUMNS = 'ti_id, try_number, state, worker, hostname, exit_code, reason, queued_at, started_at, ended_at';
const COLUMNS = TASK_TRY_COLUMNS;

/**
 * Every try kept as a row of its own (issue 16: the tries table lists each try, an earlier one
 * under the worker it ran on): `task_instance` holds only the latest try, and reading earlier
 * ones from `task_state_history` per request would aggregate the whole history to filter and
 * order them. A trigger recomputes a try from its history rows (a few, by the `ti_id` index;
 * an instance's steps are serialised by its row's compare-and-set, so two writers never race on
 * one try) when the try is superseded: the next one is queued, or the instance is cleared or
 * scheduled again. The current try is read from `task_instance`, so its row here may be missing
 * or stale, and the plain path fires nothing. Existing history is folded in once here. Indexed
 * by the tries table's order (start, else queue time) and by worker.
 */
export class TaskTry1764950000000 implements MigrationInterface {
  name = 'TaskTry1764950000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_try (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      state varchar(20) NOT NULL,
      worker varchar(250),
      hostname varchar(250),
      exit_code int,
      reason text,
      queued_at timestamptz,
      started_at timestamptz,
      ended_at timestamptz,
      sort_at timestamptz GENERATED ALWAYS AS (COALESCE(started_at, queued_at)) STORED,
      PRIMARY KEY (ti_id, try_number))`);
    await q.query(`CREATE INDEX task_try_sort ON task_try (sort_at DESC NULLS LAST, ti_id DESC)`);
    await q.query(`CREATE INDEX task_try_worker ON task_try (worker, sort_at DESC NULLS LAST) WHERE worker IS NOT NULL`);
    await createTaskTryTrigger(q);
    await q.query(`INSERT INTO task_try (${COLUMNS}) ${TRY_OF_HISTORY} WHERE h.try_number > 0 GROUP BY h.ti_id, h.try_number`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER task_try_refresh ON task_state_history`);
    await q.query(`DROP FUNCTION task_try_refresh()`);
    await q.query(`DROP TABLE task_try`);
  }
}

/**
 * The trigger this migration created (a later one, 1764960000000, drops it: the write that
 * supersedes a try fills its row, see TaskInstanceRepository.applyWithMessages).
 */
export async function createTaskTryTrigger(q: QueryRunner): Promise<void> {
  // Only when a try stops being the instance's own: the next try is queued (the row of
  // try n + 1 going to queued settles try n), or the instance is cleared or scheduled again
  // (its try n is then read from here). A try's later steps never come after those, so the
  // row is complete; and the plain path (queued 1 → running → success) fires nothing, which
  // keeps the scheduler's main write as cheap as before.
  await q.query(`CREATE FUNCTION task_try_refresh() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE n int := CASE WHEN NEW.to_state = 'queued' THEN NEW.try_number - 1 ELSE NEW.try_number END;
    BEGIN
      INSERT INTO task_try (${COLUMNS})
      ${TRY_OF_HISTORY} WHERE h.ti_id = NEW.ti_id AND h.try_number = n GROUP BY h.ti_id, h.try_number
      ON CONFLICT (ti_id, try_number) DO UPDATE SET state = EXCLUDED.state, worker = EXCLUDED.worker, hostname = EXCLUDED.hostname,
        exit_code = EXCLUDED.exit_code, reason = EXCLUDED.reason, queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at,
        ended_at = EXCLUDED.ended_at;
      RETURN NULL;
    END $fn$`);
  await q.query(`CREATE TRIGGER task_try_refresh AFTER INSERT ON task_state_history FOR EACH ROW
    WHEN ((NEW.to_state = 'queued' AND NEW.try_number > 1) OR (NEW.to_state IN ('none', 'scheduled') AND NEW.try_number > 0))
    EXECUTE FUNCTION task_try_refresh()`);
}
