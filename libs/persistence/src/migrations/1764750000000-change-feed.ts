import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A change sequence for the live feed (`GET /api/v1/events`), readable by any webserver
 * process: `change_xid` holds the id of the transaction that created the row or last changed
 * what the feed shows (a task instance's state, try or worker; a run's state; any worker
 * heartbeat). The hot writers set it in their own statement (the scheduler's transition
 * write, a run's state, a heartbeat): a plain column write. A trigger is the safety net for
 * every other writer, fired only when a watched column changed and `change_xid` did not
 * (its WHEN is evaluated without calling the function), so the hot path pays no PL/pgSQL call
 * (measured: ~15 µs per row when it did) and the scheduler's other updates (ti_seq,
 * needs_eval) none at all. A poller reads rows whose `change_xid` is at or above the oldest
 * transaction still running at its previous read (`pg_snapshot_xmin`): a transaction that
 * commits late is still seen, unlike with a sequence or a timestamp. Works the same on the
 * embedded database (PGlite is PostgreSQL).
 */
export class ChangeFeed1764750000000 implements MigrationInterface {
  name = 'ChangeFeed1764750000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION swarmflow_touch_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.change_xid := pg_current_xact_id(); RETURN NEW; END $$`);
    for (const table of ['task_instance', 'dag_run', 'worker']) {
      // Existing rows get 0 (no table rewrite); new rows their creating transaction.
      await q.query(`ALTER TABLE ${table} ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0'`);
      await q.query(`ALTER TABLE ${table} ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id()`);
      await q.query(`CREATE INDEX ${table}_change_xid ON ${table} (change_xid)`);
    }
    await q.query(`CREATE TRIGGER task_instance_change_xid BEFORE UPDATE ON task_instance FOR EACH ROW
      WHEN (NEW.change_xid = OLD.change_xid
        AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.try_number IS DISTINCT FROM NEW.try_number OR OLD.worker IS DISTINCT FROM NEW.worker))
      EXECUTE FUNCTION swarmflow_touch_change_xid()`);
    await q.query(`CREATE TRIGGER dag_run_change_xid BEFORE UPDATE ON dag_run FOR EACH ROW
      WHEN (NEW.change_xid = OLD.change_xid AND OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION swarmflow_touch_change_xid()`);
    await q.query(`CREATE TRIGGER worker_change_xid BEFORE UPDATE ON worker FOR EACH ROW
      WHEN (NEW.change_xid = OLD.change_xid) EXECUTE FUNCTION swarmflow_touch_change_xid()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['task_instance', 'dag_run', 'worker']) {
      await q.query(`DROP TRIGGER ${table}_change_xid ON ${table}`);
      await q.query(`ALTER TABLE ${table} DROP COLUMN change_xid`);
    }
    await q.query(`DROP FUNCTION swarmflow_touch_change_xid()`);
  }
}
