import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tries a stopping worker handed over to the next worker of its name (containers left
 * running) and until when they wait for it (the scheduler's clock): the scheduler does not
 * fail or retry them before, nor take the worker for lost.
 */
export class WorkerHandOver1764910000000 implements MigrationInterface {
  name = 'WorkerHandOver1764910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker ADD COLUMN handed_over jsonb NOT NULL DEFAULT '[]', ADD COLUMN handed_over_until timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker DROP COLUMN handed_over, DROP COLUMN handed_over_until`);
  }
}
