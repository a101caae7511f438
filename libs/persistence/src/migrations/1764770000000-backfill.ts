import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Backfills: one row per `dags backfill` request, with what it asked for; its runs point
 * to it (`dag_run.backfill_id`), so a backfill's progress is its runs' states and asking
 * again resumes it. `paused`: interrupted, its queued runs wait (running ones go on).
 */
export class Backfill1764770000000 implements MigrationInterface {
  name = 'Backfill1764770000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE backfill (
      id bigserial PRIMARY KEY,
      dag_id varchar(250) NOT NULL REFERENCES dag(dag_id) ON DELETE CASCADE,
      from_date timestamptz NOT NULL,
      to_date timestamptz NOT NULL,
      task_pattern text,
      ignore_dependencies boolean NOT NULL DEFAULT false,
      rerun_failed boolean NOT NULL DEFAULT false,
      max_active_runs int NOT NULL,
      run_count int NOT NULL,
      paused boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX backfill_dag ON backfill (dag_id, id)`);
    await q.query(`ALTER TABLE dag_run ADD COLUMN backfill_id bigint REFERENCES backfill(id) ON DELETE SET NULL`);
    await q.query(`CREATE INDEX dag_run_backfill ON dag_run (backfill_id) WHERE backfill_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run DROP COLUMN backfill_id`);
    await q.query(`DROP TABLE backfill`);
  }
}
