import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Variables: global key/value pairs; a secret's value is stored encrypted with the cluster key. */
export class Variable1763900000000 implements MigrationInterface {
  name = 'Variable1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE variable (
      key varchar(250) PRIMARY KEY,
      value text NOT NULL,
      is_secret boolean NOT NULL DEFAULT false,
      description text NOT NULL DEFAULT '',
      updated_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE variable`);
  }
}
