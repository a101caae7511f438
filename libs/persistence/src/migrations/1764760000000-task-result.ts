import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a try left besides its state: the outputs it wrote, the image digest it ran (a
 * container try), its cache key (a cacheable task), and for a `cached` task instance the
 * try it took them from. A run's force pattern (`dags trigger --force` / `--force-task`).
 */
export class TaskResult1764760000000 implements MigrationInterface {
  name = 'TaskResult1764760000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_result (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      succeeded boolean NOT NULL,
      outputs jsonb,
      image varchar(1000),
      image_digest varchar(1000),
      image_pinned boolean NOT NULL DEFAULT true,
      cache_key char(64),
      cached_from_ti bigint REFERENCES task_instance(id) ON DELETE SET NULL,
      cached_from_try int,
      invalidated_at timestamptz,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (ti_id, try_number))`);
    await q.query(`CREATE INDEX task_result_cache_key ON task_result (cache_key, created_at DESC)
      WHERE cache_key IS NOT NULL AND succeeded AND cached_from_try IS NULL AND invalidated_at IS NULL`);
    await q.query(`ALTER TABLE dag_run ADD COLUMN cache_force varchar(1000)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run DROP COLUMN cache_force`);
    await q.query(`DROP TABLE task_result`);
  }
}
