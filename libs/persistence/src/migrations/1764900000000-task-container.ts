import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A container try's container as its worker reported it once started (`task.container_started`):
 * id, image and digest, GPU devices (comma-separated ids), OCI runtime. The try page shows them
 * while the try runs; `task_result` keeps the same details with the try's end.
 */
export class TaskContainer1764900000000 implements MigrationInterface {
  name = 'TaskContainer1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_container (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      container_id text NOT NULL,
      worker text NOT NULL,
      image varchar(1000),
      image_digest varchar(1000),
      gpu_devices text NOT NULL,
      runtime text,
      started_at timestamptz NOT NULL,
      PRIMARY KEY (ti_id, try_number))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_container`);
  }
}
