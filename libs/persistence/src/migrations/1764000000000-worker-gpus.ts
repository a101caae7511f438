import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Workers report how many GPUs they have, so dispatch can fail a task no worker of its queue could ever run. */
export class WorkerGpus1764000000000 implements MigrationInterface {
  name = 'WorkerGpus1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker ADD COLUMN gpus int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker DROP COLUMN gpus`);
  }
}
