import { dagHash, validateDag } from '@swarmflow/core';
import { Database } from '../database';
import { MIGRATIONS } from '../migrations';
import { DagRunLogicalDateUnique1764500000000 } from '../migrations/1764500000000-dag-run-logical-date-unique';
import { DuplicateLogicalDateError } from '../repositories/dag-run.repository';
import { Repositories } from '../repositories/repositories';

/**
 * Migrations that change existing data, run on a database an earlier version left behind:
 * the same specs against PostgreSQL and the embedded database (PGlite).
 * @param open an empty database: its URL and the pool size to use on it
 */
export function describeMigrationContract(name: string, open: () => Promise<{ url: string; poolSize: number; close(): Promise<void> }>): void {
  describe(`migrations on ${name}`, () => {
    it('DagRunLogicalDateUnique keeps every run of a shared logical date, then allows one run per date', async () => {
      const { url, poolSize, close } = await open();
      const now = new Date('2025-03-01T12:00:00Z');
      const date = '2025-03-01T00:00:00.000Z';
      try {
        const old = new Database({ url, poolSize, migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(DagRunLogicalDateUnique1764500000000)) });
        try {
          await old.migrate();
          const dags = ['twice', 'other'].map((id) => validateDag({ id, tasks: [{ id: 'a', command: 'true' }] }, `${id}.ts`));
          await new Repositories(old).dags.recordParse(dags.map((dag) => ({ dag, hash: dagHash(dag) })), [], now);
          // What an earlier version let in: three manual triggers of one date, next to runs that share nothing.
          const runs: [string, string, string][] = [
            ['twice', 'first', date], ['twice', 'second', date], ['twice', 'next-ms', '2025-03-01T00:00:00.001Z'],
            ['twice', 'third', date], ['other', 'same-date-other-dag', date],
          ];
          for (const [dagId, runId, logicalDate] of runs) {
            await old.query(
              `INSERT INTO dag_run (dag_id, run_id, version_hash, run_type, state, logical_date)
               VALUES ($1::text, $2, (SELECT latest_version FROM dag WHERE dag_id = $1::text), 'manual', 'success', $3)`,
              [dagId, runId, logicalDate],
            );
          }
        } finally {
          await old.close();
        }

        const db = new Database({ url, poolSize });
        try {
          expect(await db.migrate()).toContain('DagRunLogicalDateUnique1764500000000');
          const stored = await db.query<{ run_id: string; at: string }>(
            `SELECT run_id, to_char(logical_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM dag_run ORDER BY id`,
          );
          // Nothing dropped; the later runs of the shared date moved by microseconds, the rest untouched.
          expect(stored.map((r) => [r.run_id, r.at])).toEqual([
            ['first', '2025-03-01T00:00:00.000000'], ['second', '2025-03-01T00:00:00.000001'],
            ['next-ms', '2025-03-01T00:00:00.001000'], ['third', '2025-03-01T00:00:00.000002'],
            ['same-date-other-dag', '2025-03-01T00:00:00.000000'],
          ]);
          const repos = new Repositories(db);
          // The application reads whole milliseconds: the moved runs still show their date.
          for (const runId of ['first', 'second', 'third']) expect((await repos.runs.get('twice', runId))!.logicalDate.toISOString()).toBe(date);
          const again = repos.runs.create({
            dagId: 'twice', runId: 'fourth', versionHash: dagHash(validateDag({ id: 'twice', tasks: [{ id: 'a', command: 'true' }] }, 'twice.ts')),
            runType: 'manual', logicalDate: new Date(date), conf: {}, params: {},
          });
          await expect(again).rejects.toThrow(DuplicateLogicalDateError);
          await expect(again).rejects.toMatchObject({ existingRunId: 'first', existingState: 'success' });
        } finally {
          await db.close();
        }
      } finally {
        await close();
      }
    }, 60_000);
  });
}
