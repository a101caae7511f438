import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A container try's container id, the GPU devices it was given (comma-separated ids) and its
 * OCI runtime, from its `task.finished`: the web UI's try page and GET …/tasks/:task show them.
 */
export class TaskResultContainer1764830000000 implements MigrationInterface {
  name = 'TaskResultContainer1764830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_result ADD COLUMN container_id text, ADD COLUMN gpu_devices text, ADD COLUMN runtime text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_result DROP COLUMN container_id, DROP COLUMN gpu_devices, DROP COLUMN runtime`);
  }
}
