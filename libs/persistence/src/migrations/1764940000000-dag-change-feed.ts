import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * DAGs in the live feed (`dag` events of `GET /api/v1/events`), the way the ChangeFeed
 * migration put task instances, runs and workers there: `dag.change_xid` is the transaction
 * that created the DAG or last changed what the DAG list shows (paused, active, its latest
 * version, file, schedule). A trigger sets it, fired only when one of those columns changed:
 * a parse that finds every DAG as it was (the usual one, every few seconds) writes
 * `last_parsed_at` and pays no PL/pgSQL call.
 *
 * Import errors are rows that come and go (a fixed file's row is deleted), so they carry no
 * cursor themselves: `import_error_change` is one row whose `change_xid` the parse bumps
 * when the set of broken files or their messages changed.
 */
export class DagChangeFeed1764940000000 implements MigrationInterface {
  name = 'DagChangeFeed1764940000000';

  async up(q: QueryRunner): Promise<void> {
    // Existing rows get 0 (no table rewrite); new rows their creating transaction.
    await q.query(`ALTER TABLE dag ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0'`);
    await q.query(`ALTER TABLE dag ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id()`);
    await q.query(`CREATE INDEX dag_change_xid ON dag (change_xid)`);
    await q.query(`CREATE TRIGGER dag_change_xid BEFORE UPDATE ON dag FOR EACH ROW
      WHEN (NEW.change_xid = OLD.change_xid AND (OLD.is_paused IS DISTINCT FROM NEW.is_paused OR OLD.is_active IS DISTINCT FROM NEW.is_active
        OR OLD.latest_version IS DISTINCT FROM NEW.latest_version OR OLD.fileloc IS DISTINCT FROM NEW.fileloc OR OLD.schedule IS DISTINCT FROM NEW.schedule))
      EXECUTE FUNCTION swarmflow_touch_change_xid()`);
    await q.query(`CREATE TABLE import_error_change (
      id smallint PRIMARY KEY CHECK (id = 1),
      change_xid xid8 NOT NULL DEFAULT '0')`);
    await q.query(`INSERT INTO import_error_change (id) VALUES (1)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE import_error_change`);
    await q.query(`DROP TRIGGER dag_change_xid ON dag`);
    await q.query(`ALTER TABLE dag DROP COLUMN change_xid`);
  }
}
