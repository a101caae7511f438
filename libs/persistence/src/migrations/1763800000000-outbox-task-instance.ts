import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Outbox rows of task messages name their task instance, so dispatch writes them in one statement with the transition. */
export class OutboxTaskInstance1763800000000 implements MigrationInterface {
  name = 'OutboxTaskInstance1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD COLUMN ti_id bigint`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox DROP COLUMN ti_id`);
  }
}
