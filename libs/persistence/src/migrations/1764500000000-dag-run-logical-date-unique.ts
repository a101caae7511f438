import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One run per DAG and logical date, as in Airflow: `dag_run_dag_id_logical_date` makes a
 * second trigger of a date fail in the database, whoever races whom (API triggers, the
 * scheduler's cron runs). Inserts use `ON CONFLICT DO NOTHING` and then name the run that
 * holds the date.
 *
 * Runs created before it may share a date (two manual triggers of one date). None is
 * dropped, as each has its task instances, history and logs: all but the oldest (by id)
 * of each date are moved 1, 2, … microseconds later. The application reads and writes
 * whole milliseconds (JavaScript dates), so the API shows them at the same date as before,
 * templates render the same `ds`/`ts`, and no run it creates can land on a moved date.
 */
export class DagRunLogicalDateUnique1764500000000 implements MigrationInterface {
  name = 'DagRunLogicalDateUnique1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE dag_run r SET logical_date = r.logical_date + d.nth * interval '1 microsecond'
      FROM (SELECT id, row_number() OVER (PARTITION BY dag_id, logical_date ORDER BY id) - 1 AS nth FROM dag_run) d
      WHERE r.id = d.id AND d.nth > 0`);
    await q.query(`ALTER TABLE dag_run ADD CONSTRAINT dag_run_dag_id_logical_date UNIQUE (dag_id, logical_date)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dag_run DROP CONSTRAINT dag_run_dag_id_logical_date`);
  }
}
