import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What `workers show` and `GET /queues` need from heartbeats: tries processed and failed,
 * when the worker process started, its version, and the task messages it holds unacked per queue.
 */
export class WorkerDetail1764610000000 implements MigrationInterface {
  name = 'WorkerDetail1764610000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker
      ADD COLUMN processed int NOT NULL DEFAULT 0,
      ADD COLUMN failed int NOT NULL DEFAULT 0,
      ADD COLUMN started_at timestamptz,
      ADD COLUMN version varchar(50),
      ADD COLUMN unacked jsonb NOT NULL DEFAULT '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE worker DROP COLUMN processed, DROP COLUMN failed, DROP COLUMN started_at, DROP COLUMN version, DROP COLUMN unacked`);
  }
}
