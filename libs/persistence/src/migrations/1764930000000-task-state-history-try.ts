import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a try ran on and how it exited, kept per try: `task_instance` holds only the latest
 * try's worker, hostname, pid and exit code. Each `task_state_history` row now records them
 * as the instance had them right after the step (the step into `running` names the worker,
 * the step that ends the try its exit code). Nullable: rows written before this migration
 * have none (the UI says the try ran before this version), and so do steps of an instance
 * that has no worker at that point (scheduled, queued, a clear). Adding nullable columns
 * without a default rewrites nothing.
 */
export class TaskStateHistoryTry1764930000000 implements MigrationInterface {
  name = 'TaskStateHistoryTry1764930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_state_history
      ADD COLUMN worker varchar(250), ADD COLUMN hostname varchar(250), ADD COLUMN pid int, ADD COLUMN exit_code int`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_state_history DROP COLUMN worker, DROP COLUMN hostname, DROP COLUMN pid, DROP COLUMN exit_code`);
  }
}
