import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryBroker } from '@swarmflow/messaging';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { Scheduler } from '../scheduler';
import { quietLogger } from '../test-support/stack';

// A slow DAGs folder neither delays a standalone start nor a stop.
describeWithPostgres('a scheduler over a DAGs folder with a file that hangs', () => {
  let testDb: TestDatabase;
  let db: Database;
  let folder: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 2 });
    await db.connect();
    folder = mkdtempSync(path.join(tmpdir(), 'sf-lifecycle-'));
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  // hang.ts holds its import for the import timeout, 10 minutes here: a start that awaited the first
  // parse, or a stop that waited for the import, would fail this test (its jest timeout is a fraction
  // of that) rather than pass slowly. How long the stop took is printed, not bounded: a loaded CI
  // machine stretches it.
  it('starts without waiting for the first parse when told, and stops killing the import rather than awaiting it', async () => {
    const spinning = path.join(folder, 'spinning');
    writeFileSync(path.join(folder, 'a_good.yaml'), 'id: good\ntasks:\n  a: { shell: "true" }\n');
    writeFileSync(path.join(folder, 'hang.ts'), `// swarmflow\nrequire('node:fs').writeFileSync(${JSON.stringify(spinning)}, String(process.pid));\nfor (;;) {}\n`);
    const broker = new MemoryBroker();
    await broker.start();
    const scheduler = new Scheduler({
      dagsFolder: folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 600_000, tickMs: 200, heartbeatTimeoutMs: 30_000,
      awaitFirstParse: false,
    }, new Repositories(db), broker, quietLogger);
    try {
      await scheduler.start(); // returns although hang.ts holds the first parse for up to 600 s
      const deadline = Date.now() + 60_000;
      while (!existsSync(spinning)) {
        if (Date.now() > deadline) throw new Error('the import of hang.ts never started');
        await new Promise((r) => setTimeout(r, 25));
      }
      const childPid = Number(require('node:fs').readFileSync(spinning, 'utf8'));
      expect(isAlive(childPid)).toBe(true); // the first parse is still under way: start did not wait for it
      const started = Date.now();
      await scheduler.stop();
      process.stdout.write(`scheduler-lifecycle: stop took ${Date.now() - started} ms with an import hanging (import timeout 600 s)\n`);
      // The import spins forever: it is gone only because the stop killed it.
      const gone = Date.now() + 60_000;
      while (isAlive(childPid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 25));
      expect(isAlive(childPid)).toBe(false);
    } finally {
      await broker.close();
    }
  }, 180_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
