import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createTaskTryTrigger } from './1764950000000-task-try';

/**
 * Drops the trigger that filled `task_try`: any row trigger on `task_state_history` costs each
 * statement that inserts history rows (the scheduler's main write, one or two a hop) about
 * 0.03–0.06 ms, whatever its `WHEN` says (bench/README.md, session 14). The write that
 * supersedes a try now fills its row (TaskInstanceRepository.applyWithMessages), so a plain
 * run pays nothing. The table keeps its rows.
 */
export class TaskTryFromWrite1764960000000 implements MigrationInterface {
  name = 'TaskTryFromWrite1764960000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER task_try_refresh ON task_state_history`);
    await q.query(`DROP FUNCTION task_try_refresh()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await createTaskTryTrigger(q);
  }
}
