import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `swarmflow_require_applied(expected, applied)`: raises SQLSTATE `SFCAS`, naming the
 * missing ids, unless every expected task-instance id was applied. The scheduler's write
 * checks its compare-and-set inside the statement with it, so the statement and its
 * COMMIT can go to the server together (one round trip fewer per iteration): a mismatch
 * fails the statement and the COMMIT is never run.
 */
export class RequireApplied1764200000000 implements MigrationInterface {
  name = 'RequireApplied1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION swarmflow_require_applied(expected bigint[], applied bigint[]) RETURNS boolean
      LANGUAGE plpgsql AS $$
      DECLARE
        missing bigint[];
      BEGIN
        SELECT coalesce(array_agg(e), '{}') INTO missing FROM unnest(expected) e WHERE e <> ALL (applied);
        IF cardinality(missing) > 0 THEN
          RAISE EXCEPTION USING ERRCODE = 'SFCAS', MESSAGE = 'task instance(s) changed during the iteration',
            DETAIL = array_to_string(missing, ',');
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION swarmflow_require_applied(bigint[], bigint[])`);
  }
}
