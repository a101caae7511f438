import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A counter on each run, raised by every write that can change how the run evaluates
 * (task instances created, decided, ended, cleared). A scheduler caches a run's task
 * states with the counter it read; an equal counter under the run's lock means the cache
 * is current, so a 2,000-task run is not read again for every finished task.
 */
export class DagRunTiSeq1764100000000 implements MigrationInterface {
  name = 'DagRunTiSeq1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run ADD COLUMN ti_seq bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run DROP COLUMN ti_seq`);
  }
}
