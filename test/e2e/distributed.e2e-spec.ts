import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EVENTS_QUEUE, LOGS_QUEUE, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { Database, Repositories, type TaskInstance } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { eventually, freePort, runCli, SwarmflowProcess } from '../support/processes';

// The distributed mode as separate processes: a scheduler, a webserver and two workers on
// PostgreSQL and RabbitMQ. A worker killed with SIGKILL and a broker restart mid-run must
// not lose the run.

const TASKS = 500;
const wideDag = (id: string, tasks: number, command: string) => {
  const lines = [`id: ${id}`, 'max_active_tasks: 64', 'defaults: { retries: 2, retry_delay: 500ms }', 'tasks:'];
  for (let i = 0; i < tasks; i++) lines.push(`  t${i}: { shell: "${command}" }`);
  return lines.join('\n') + '\n';
};

jest.setTimeout(180_000);

describeWithPostgres('distributed mode (PostgreSQL)', () => {
  describeWithRabbitMQ('distributed mode: scheduler, webserver and two workers as processes', () => {
    let testDb: TestDatabase;
    let db: Database;
    let repos: Repositories;
    let folder: string;
    let api: string;
    let env: NodeJS.ProcessEnv;
    let token: string;
    const procs: SwarmflowProcess[] = [];
    const workers: SwarmflowProcess[] = [];

    const startWorker = async (name: string) => {
      const w = new SwarmflowProcess(name, ['worker', '--name', name, '--concurrency', '4'], env);
      procs.push(w);
      workers.push(w);
      return w;
    };

    const trigger = async (dagId = 'wide500'): Promise<string> => {
      const res = await fetch(`${api}/api/v1/dags/${dagId}/runs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });
      expect(res.status).toBe(201);
      return ((await res.json()) as { runId: string }).runId;
    };

    const tisOf = async (runId: string, dagId = 'wide500'): Promise<TaskInstance[]> => {
      const run = await repos.runs.get(dagId, runId);
      return repos.tis.forRuns([run!.pk]);
    };

    const finished = (runId: string, dagId = 'wide500') => eventually(async () => {
      const run = await repos.runs.get(dagId, runId);
      return run && (run.state === 'success' || run.state === 'failed') ? run.state : undefined;
    }, 120_000, `run ${runId} to finish`, 200);

    const progress = (runId: string, done: number, dagId = 'wide500') => eventually(async () => {
      const n = (await tisOf(runId, dagId)).filter((t) => t.state === 'success').length;
      return n >= done ? n : undefined;
    }, 60_000, `${done} tasks of ${runId} to succeed`, 50);

    const prefix = `e2e-${process.pid}-${Date.now()}.`;

    beforeAll(async () => {
      testDb = await createTestDatabase();
      db = new Database({ url: testDb.url, poolSize: 2 });
      repos = new Repositories(db);
      folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-e2e-'));
      writeFileSync(path.join(folder, 'wide.yaml'), wideDag('wide500', TASKS, 'sleep 0.02'));
      // Tries long enough to have reported task.started: a killed worker's must be found by heartbeat expiry.
      writeFileSync(path.join(folder, 'slow.yaml'), wideDag('slow40', 40, 'sleep 1'));
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      env = {
        SWARMFLOW_DATABASE_URL: testDb.url, SWARMFLOW_AMQP_URL: rabbitmqUrl(),
        SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_DAGS_FOLDER: folder,
        SWARMFLOW_HEARTBEAT_INTERVAL: '1s', SWARMFLOW_HEARTBEAT_TIMEOUT: '6s', SWARMFLOW_SCHEDULER_TICK: '200ms',
        SWARMFLOW_WEB_PORT: String(port), SWARMFLOW_WEB_HOST: '127.0.0.1',
        // The documented bootstrap: the first admin from a (Docker) secret file, a token made on the database.
        SWARMFLOW_ADMIN_PASSWORD_FILE: path.join(folder, 'admin-password'),
        // Scheduler and workers share it: task messages are signed with it.
        SWARMFLOW_CLUSTER_KEY: randomBytes(32).toString('base64'),
      };
      writeFileSync(env.SWARMFLOW_ADMIN_PASSWORD_FILE!, 'e2e-admin-password\n', { mode: 0o600 });
      const scheduler = new SwarmflowProcess('scheduler', ['scheduler'], env);
      procs.push(scheduler);
      await scheduler.waitForOutput('scheduler running');
      const web = new SwarmflowProcess('webserver', ['webserver'], env);
      procs.push(web);
      await web.waitForOutput('REST API on');
      const created = await runCli(['tokens', 'create', '--name', 'e2e', '--user', 'admin', '--database'], env);
      expect(created).toMatchObject({ code: 0, stdout: expect.stringMatching(/^sfw_\S+\n$/) });
      token = created.stdout.trim();
      await startWorker('worker-a');
      await startWorker('worker-b');
    });

    afterAll(async () => {
      await Promise.all(procs.map((p) => p.stop('SIGTERM').catch(() => undefined)));
      // The queues and exchanges of this run's prefix, so that runs do not pile them up on the broker.
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name, EVENTS_QUEUE.name, LOGS_QUEUE.name]);
      await db?.close();
      await testDb?.drop();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    it(`runs a ${TASKS}-task DAG to success on two workers`, async () => {
      const runId = await trigger();
      expect(await finished(runId)).toBe('success');
      const tis = await tisOf(runId);
      expect(tis.filter((t) => t.state === 'success')).toHaveLength(TASKS);
      expect(new Set(tis.map((t) => t.worker))).toEqual(new Set(['worker-a', 'worker-b']));
    });

    it('still succeeds when a worker is killed with SIGKILL mid-run (its tasks are retried elsewhere)', async () => {
      const runId = await trigger('slow40');
      // Kill it while the scheduler has it recorded running tries (their task.started is in).
      await eventually(async () => {
        const mine = (await tisOf(runId, 'slow40')).filter((t) => t.worker === 'worker-a' && t.state === 'running');
        return mine.length > 0 ? mine : undefined;
      }, 30_000, 'worker-a to run tries of slow40', 50);
      const victim = workers.find((w) => w.name === 'worker-a')!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      expect(await finished(runId, 'slow40')).toBe('success');
      const tis = await tisOf(runId, 'slow40');
      expect(tis.filter((t) => t.state === 'success')).toHaveLength(40);
      // The tasks worker-a was running when it died were failed by heartbeat expiry and ran again.
      const retried = tis.filter((t) => t.tryNumber > 1);
      expect(retried.length).toBeGreaterThan(0);
      expect(retried.every((t) => t.worker === 'worker-b')).toBe(true);
      await startWorker('worker-c');
    });

    it('still succeeds when RabbitMQ restarts mid-run', async () => {
      const runId = await trigger();
      await progress(runId, 100);
      execFileSync('rabbitmqctl', ['stop_app'], { stdio: 'ignore' });
      execFileSync('rabbitmqctl', ['start_app'], { stdio: 'ignore' });
      expect(await finished(runId)).toBe('success');
      expect((await tisOf(runId)).filter((t) => t.state === 'success')).toHaveLength(TASKS);
    });
  });
});
