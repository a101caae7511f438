import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `scheduler_epoch`: one counter, raised by every scheduling iteration that writes. A
 * scheduler whose last write left it at n, and finds it still at n, knows that nobody
 * else changed which task instances are queued or running meanwhile, so its own record
 * of pool slots and candidates is exact and it may decide without reading them again.
 * `swarmflow_require(ok, what)` raises SQLSTATE `SFCAS` unless `ok`, for such guards.
 */
export class SchedulerEpoch1764300000000 implements MigrationInterface {
  name = 'SchedulerEpoch1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE scheduler_epoch (id int PRIMARY KEY CHECK (id = 1), n bigint NOT NULL DEFAULT 0)`);
    await q.query(`INSERT INTO scheduler_epoch (id, n) VALUES (1, 0)`);
    await q.query(`
      CREATE FUNCTION swarmflow_require(ok boolean, what text) RETURNS boolean
      LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT coalesce(ok, false) THEN
          RAISE EXCEPTION USING ERRCODE = 'SFCAS', MESSAGE = what;
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION swarmflow_require(boolean, text)`);
    await q.query(`DROP TABLE scheduler_epoch`);
  }
}
