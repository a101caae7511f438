import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ends of tries that a scheduler holds until their log batches are stored (the log gate),
 * visible to every scheduler: another one must neither fail such a try as lost nor grant
 * a claim to run it again. Rows expire by age; nothing deletes them on the hot path.
 */
export class TaskEndHold1764710000000 implements MigrationInterface {
  name = 'TaskEndHold1764710000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_end_hold (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      held_at timestamptz NOT NULL,
      PRIMARY KEY (ti_id, try_number)
    )`);
    await q.query(`CREATE INDEX task_end_hold_held_at ON task_end_hold (held_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_end_hold`);
  }
}
