import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Queue depths over time, for the dashboard's chart: one row per queue topic per sample
 * time (webservers sample every 15 s, aligned, so two webservers write the same key once).
 * Bounded: a sampler deletes rows older than a day as it writes.
 */
export class QueueDepthSample1764750100000 implements MigrationInterface {
  name = 'QueueDepthSample1764750100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE queue_depth_sample (
      at timestamptz NOT NULL,
      queue varchar(250) NOT NULL,
      ready int NOT NULL,
      unacked int NOT NULL,
      consumers int NOT NULL,
      queued int NOT NULL,
      running int NOT NULL,
      PRIMARY KEY (at, queue))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE queue_depth_sample`);
  }
}
