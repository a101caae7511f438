import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What remote logging must archive, without scanning `task_log` every pass:
 * `task_log_archive_scan` holds one watermark, the newest `task_log` row id a pass has
 * looked at; each pass reads only the rows above it (by primary key, a bounded batch at a
 * time) and records their tries in `task_log_archive_due` (`up_to`: the newest row id seen
 * of the try). An archive deletes its try's due row when it holds every row up to `up_to`.
 * The due table holds only tries not archived yet (running, within the grace, or whose
 * upload failed), so finding what to archive costs what is due, not what is kept. The
 * watermark starts at 0: the first pass after this migration reads the rows kept once.
 */
export class TaskLogArchiveDue1764920000000 implements MigrationInterface {
  name = 'TaskLogArchiveDue1764920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE task_log_archive_due (
      ti_id bigint NOT NULL REFERENCES task_instance(id) ON DELETE CASCADE,
      try_number int NOT NULL,
      up_to bigint NOT NULL,
      PRIMARY KEY (ti_id, try_number))`);
    await q.query(`CREATE TABLE task_log_archive_scan (
      one boolean PRIMARY KEY DEFAULT true CHECK (one),
      last_log_id bigint NOT NULL)`);
    await q.query(`INSERT INTO task_log_archive_scan (last_log_id) VALUES (0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_log_archive_scan`);
    await q.query(`DROP TABLE task_log_archive_due`);
  }
}
