import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Workers marked lost before `markLost` emptied `running` kept their last heartbeat's list,
 * which the API and `swarmflow workers list` showed as tries still running there. Their
 * tries were failed or retried when they were marked lost: they run nothing we know of.
 */
export class LostWorkersRunNothing1764400000000 implements MigrationInterface {
  name = 'LostWorkersRunNothing1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE worker SET running = '[]' WHERE state = 'lost'`);
  }

  async down(): Promise<void> {
    // Nothing to undo: the lists were stale, and a worker that beats again reports its own.
  }
}
