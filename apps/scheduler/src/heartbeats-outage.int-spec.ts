import type { WorkerHeartbeatEvent } from '@swarmflow/core';
import { EXCHANGES } from '@swarmflow/messaging';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import type { TaskInstance } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { TcpProxy } from '../../../test/support/tcp-proxy';
import { Scheduler } from './scheduler';
import { Stack } from './test-support/stack';

// A scheduler stores heartbeats in the database. While the database is down it stores none,
// so every worker looks silent once it is back: that silence is the scheduler's, not the
// workers'. Nobody may be lost for it (issue 12: after a PostgreSQL outage both workers of
// the chaos suite were declared lost on recovery and their tries retried).
describeWithPostgres('heartbeat expiry across a database outage', () => {
  jest.setTimeout(60_000);
  const HEARTBEAT_TIMEOUT_MS = 1500;
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let stack: Stack;
  const lines: string[] = [];
  const logger = {
    log: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(m),
    error: (m: string) => lines.push(m),
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const target = new URL(testDb.url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const through = new URL(testDb.url);
    through.hostname = '127.0.0.1';
    through.port = String(await proxy.start());
    stack = await new Stack({
      databaseUrl: through.toString(),
      // Queue "elsewhere" has no worker here: the test plays that worker with hand-made heartbeats.
      dagFiles: { 'far.yaml': 'id: far\ndefaults: { retries: 1, retry_delay: 1h, queue: elsewhere }\ntasks:\n  job: { shell: "sleep 30" }\n' },
      workers: [],
    }).start();
    // The same scheduler, with a logger the test reads.
    await stack.scheduler.stop();
    stack.scheduler = new Scheduler({
      dagsFolder: stack.folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 20_000, tickMs: 100,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, clusterKey: stack.clusterKey,
    }, stack.repos, await stack.broker(), logger);
    await stack.scheduler.start();
  }, 60_000);

  afterAll(async () => {
    proxy?.restore();
    await stack?.stop();
    await proxy?.close();
    await testDb?.drop();
  });

  const beat = async (running: { tiId: number; tryNumber: number }[]) => {
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: 'patient-worker', hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running,
      state: 'active', at: new Date().toISOString(),
    };
    await (await stack.broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
  };

  async function runningOnPatientWorker(): Promise<TaskInstance> {
    const run = await stack.trigger('far');
    const ti = await waitUntil('the task to be queued', async () => {
      const [row] = await stack.repos.tis.forRuns([run.pk]);
      return row?.state === 'queued' ? row : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20 });
    await stack.db.query(`UPDATE task_instance SET state = 'running', worker = 'patient-worker', started_at = now() WHERE id = $1`, [ti.id]);
    return ti;
  }

  it('loses no worker for the silence of an outage longer than the heartbeat timeout, and still expires a worker that stays silent', async () => {
    await beat([]);
    await stack.eventsApplied();
    const ti = await runningOnPatientWorker();
    await beat([{ tiId: ti.id, tryNumber: 1 }]);
    await stack.eventsApplied();

    proxy.cut();
    await waitUntil('the scheduler to notice the outage', () => lines.some((l) => l.includes('database unavailable')), { timeoutMs: 10_000, intervalMs: 20 });
    // The outage lasts twice the heartbeat timeout; the worker's heartbeats are late in the
    // broker meanwhile (none arrives), as they are behind a backlog of events after an outage.
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_TIMEOUT_MS));
    proxy.restore();
    await waitUntil('the scheduler to resume', () => lines.some((l) => l.includes('database available again')), { timeoutMs: 20_000, intervalMs: 20 });

    // The heartbeats come in again; the scheduler ticks on for twice the timeout.
    const runner = stack.scheduler.runner;
    const until = Date.now() + 2 * HEARTBEAT_TIMEOUT_MS;
    while (Date.now() < until) {
      await beat([{ tiId: ti.id, tryNumber: 1 }]);
      const seen = runner.iterations;
      await waitUntil('two scheduler iterations', () => runner.iterations >= seen + 2, { timeoutMs: 10_000, intervalMs: 10 });
    }
    expect(lines.filter((l) => /lost/.test(l))).toEqual([]);
    expect((await stack.repos.tis.byIds([ti.id]))[0]).toMatchObject({ state: 'running', worker: 'patient-worker' });
    expect((await stack.repos.workers.get('patient-worker'))?.state).toBe('active');

    // Expiry still works after an outage: a worker silent for a whole timeout of listening is lost.
    await waitUntil('the silent worker to be lost', async () => (await stack.repos.tis.byIds([ti.id]))[0].state !== 'running',
      { timeoutMs: 10_000, intervalMs: 20 });
    expect((await stack.repos.tis.byIds([ti.id]))[0].reason).toMatch(/worker patient-worker lost: no heartbeat for 1.5s/);
  });
});
