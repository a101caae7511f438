import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763700000000 implements MigrationInterface {
  name = 'InitialSchema1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE dag (
      dag_id varchar(250) PRIMARY KEY,
      fileloc text NOT NULL,
      is_paused boolean NOT NULL DEFAULT false,
      is_active boolean NOT NULL DEFAULT true,
      latest_version varchar(64) NOT NULL,
      schedule text,
      last_scheduled_date timestamptz,
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      last_parsed_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE dag_version (
      dag_id varchar(250) NOT NULL REFERENCES dag(dag_id) ON DELETE CASCADE,
      version_hash varchar(64) NOT NULL,
      serialized jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (dag_id, version_hash))`);
    await q.query(`CREATE TABLE import_error (
      fileloc text PRIMARY KEY,
      message text NOT NULL,
      at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE TABLE dag_run (
      id bigserial PRIMARY KEY,
      dag_id varchar(250) NOT NULL REFERENCES dag(dag_id) ON DELETE CASCADE,
      run_id varchar(250) NOT NULL,
      version_hash varchar(64) NOT NULL,
      run_type varchar(20) NOT NULL,
      state varchar(20) NOT NULL,
      logical_date timestamptz NOT NULL,
      conf jsonb NOT NULL DEFAULT '{}',
      params jsonb NOT NULL DEFAULT '{}',
      needs_eval boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      ended_at timestamptz,
      CONSTRAINT dag_run_dag_id_run_id UNIQUE (dag_id, run_id))`);
    await q.query(`CREATE INDEX dag_run_state ON dag_run (state)`);
    await q.query(`CREATE INDEX dag_run_needs_eval ON dag_run (id) WHERE needs_eval`);
    await q.query(`CREATE TABLE task_instance (
      id bigserial PRIMARY KEY,
      run_pk bigint NOT NULL REFERENCES dag_run(id) ON DELETE CASCADE,
      dag_id varchar(250) NOT NULL,
      task_id varchar(250) NOT NULL,
      state varchar(20) NOT NULL DEFAULT 'none',
      try_number int NOT NULL DEFAULT 0,
      max_tries int NOT NULL,
      queue varchar(250) NOT NULL,
      pool varchar(250) NOT NULL,
      pool_slots int NOT NULL DEFAULT 1,
      priority int NOT NULL DEFAULT 0,
      worker varchar(250),
      hostname varchar(250),
      pid int,
      exit_code int,
      reason text,
      queued_at timestamptz,
      started_at timestamptz,
      ended_at timestamptz,
      next_retry_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT task_instance_run_task UNIQUE (run_pk, task_id))`);
    await q.query(`CREATE INDEX task_instance_state ON task_instance (state)`);
    await q.query(`CREATE INDEX task_instance_active ON task_instance (dag_id, pool) WHERE state IN ('queued', 'running')`);
    await q.query(`CREATE INDEX task_instance_scheduled ON task_instance (priority DESC, id) WHERE state = 'scheduled'`);
    await q.query(`CREATE TABLE task_state_history (
      id bigserial PRIMARY KEY,
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      from_state varchar(20) NOT NULL,
      to_state varchar(20) NOT NULL,
      reason text,
      at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX task_state_history_ti ON task_state_history (ti_id)`);
    await q.query(`CREATE TABLE outbox (
      id bigserial PRIMARY KEY,
      exchange varchar(100) NOT NULL,
      routing_key varchar(250) NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz)`);
    await q.query(`CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL`);
    await q.query(`CREATE TABLE task_log (
      id bigserial PRIMARY KEY,
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      seq int NOT NULL,
      lines jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await q.query(`CREATE INDEX task_log_try ON task_log (ti_id, try_number, id)`);
    await q.query(`CREATE TABLE pool (
      name varchar(250) PRIMARY KEY,
      slots int NOT NULL,
      description text NOT NULL DEFAULT '')`);
    await q.query(`INSERT INTO pool (name, slots, description) VALUES ('default_pool', 128, 'Default pool')`);
    await q.query(`CREATE TABLE worker (
      name varchar(250) PRIMARY KEY,
      hostname varchar(250) NOT NULL,
      queues jsonb NOT NULL,
      concurrency int NOT NULL,
      state varchar(20) NOT NULL,
      running jsonb NOT NULL DEFAULT '[]',
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      last_heartbeat_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['worker', 'pool', 'task_log', 'outbox', 'task_state_history', 'task_instance', 'dag_run', 'import_error', 'dag_version', 'dag']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
