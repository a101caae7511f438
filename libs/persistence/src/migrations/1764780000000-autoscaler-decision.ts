import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Every autoscaler decision with its inputs: `swarmflow autoscaler status|history` and GET /api/v1/autoscaler. */
export class AutoscalerDecision1764780000000 implements MigrationInterface {
  name = 'AutoscalerDecision1764780000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE autoscaler_decision (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL,
      "group" varchar(100) NOT NULL,
      provider varchar(20) NOT NULL,
      action varchar(10) NOT NULL,
      current_replicas int NOT NULL,
      desired_replicas int NOT NULL,
      target_replicas int NOT NULL,
      backlog int NOT NULL,
      running int NOT NULL,
      unplaceable int NOT NULL,
      reason text NOT NULL,
      detail jsonb NOT NULL DEFAULT '{}',
      leader varchar(200) NOT NULL
    )`);
    await q.query(`CREATE INDEX autoscaler_decision_group_at ON autoscaler_decision ("group", at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE autoscaler_decision`);
  }
}
