import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Why a run ended when its tasks did not decide it: `cancelled by <user>` (`runs cancel`).
 * Cleared when the run runs again.
 */
export class DagRunReason1764720000000 implements MigrationInterface {
  name = 'DagRunReason1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run ADD COLUMN reason text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run DROP COLUMN reason`);
  }
}
