import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task logs archived to the artefacts store (remote logging): one row per try whose whole
 * log was uploaded as one object. `pruned_at`: its `task_log` rows were deleted by the
 * retention (SWARMFLOW_LOG_RETENTION); its log is then read from the object.
 */
export class TaskLogArchive1764810000000 implements MigrationInterface {
  name = 'TaskLogArchive1764810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_log_archive (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      url text NOT NULL,
      line_count int NOT NULL,
      archived_at timestamptz NOT NULL,
      pruned_at timestamptz,
      PRIMARY KEY (ti_id, try_number))`);
    await q.query(`CREATE INDEX task_log_archive_unpruned ON task_log_archive (archived_at) WHERE pruned_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_log_archive`);
  }
}
