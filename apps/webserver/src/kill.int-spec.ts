import type { INestApplication } from '@nestjs/common';
import type { ControlMessage, SerializedDag } from '@swarmflow/core';
import { controlQueue, MemoryBroker } from '@swarmflow/messaging';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { apiAs, createTestToken } from './test-support/auth';
import { ClusterKey, ControlSigner, type SignedControlEnvelope } from '@swarmflow/secrets';

describeWithPostgres('POST …/tasks/:task/kill', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let bare: INestApplication;
  let keyless: INestApplication;
  const clusterKey = ClusterKey.generate();
  let dag: SerializedDag;
  const broker = new MemoryBroker();
  const received = new Map<string, ControlMessage[]>();
  const now = new Date('2025-03-01T12:00:00.000Z');
  let changes = 0;
  let token: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    await broker.start();
    for (const worker of ['worker-a', 'worker-b']) {
      received.set(worker, []);
      await broker.consume<SignedControlEnvelope>(controlQueue(worker), (m) => {
        // Workers obey only what is signed for the routing key it came on.
        const { issuedAt, control, sig } = m.body;
        if (!new ControlSigner(clusterKey).verify(issuedAt, m.routingKey, control, sig)) throw new Error(`unsigned control message: ${JSON.stringify(m.body)}`);
        received.get(worker)!.push(JSON.parse(control) as ControlMessage);
        m.ack();
      }, { prefetch: 10 });
    }
    app = await createWebserver({ repos, logger: false, clock: () => now, broker, clusterKey, onChange: () => changes++ });
    keyless = await createWebserver({ repos, logger: false, clock: () => now, broker });
    bare = await createWebserver({ repos, logger: false, clock: () => now });
    token = await createTestToken(repos, 'operator');
    await apiAs(app, token).post('/api/v1/dags/train_ml1m/runs').send({ runId: 'r1' }).expect(201);
    const run = (await repos.runs.get('train_ml1m', 'r1'))!;
    await setRunStates(repos, run, dag, 'running', {
      extract: { state: 'success', tryNumber: 1, worker: 'worker-a' },
      train: { state: 'running', tryNumber: 2, worker: 'worker-a' },
      lint: { state: 'queued', tryNumber: 1 },
      report: { state: 'up_for_retry', tryNumber: 1 },
    });
  });

  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await keyless?.close();
    await broker.close();
    await db?.close();
    await testDb?.drop();
  });

  const kill = (server: INestApplication, task: string) => apiAs(server, token).post(`/api/v1/dags/train_ml1m/runs/r1/tasks/${task}/kill`);
  const settled = () => new Promise((r) => setImmediate(r));

  it('tells the worker running the try to cancel it', async () => {
    const res = await kill(app, 'train').expect(202);
    expect(res.body).toEqual({ dagId: 'train_ml1m', runId: 'r1', taskId: 'train', tryNumber: 2, sentTo: 'worker-a', ended: false });
    await settled();
    expect(received.get('worker-a')).toContainEqual({ type: 'task.cancel', tiId: expect.any(Number), tryNumber: 2 });
    expect(received.get('worker-b')).toEqual([]);
  });

  const tiOf = async (taskId: string) => (await repos.tis.forRuns([(await repos.runs.get('train_ml1m', 'r1'))!.pk])).find((t) => t.taskId === taskId)!;

  it('ends a queued try failed at once, has the run evaluated, and tells every worker to drop it', async () => {
    received.get('worker-a')!.length = 0;
    const before = changes;
    const res = await kill(app, 'lint').expect(202);
    expect(res.body).toMatchObject({ sentTo: 'all workers', ended: true, tryNumber: 1 });
    expect(await tiOf('lint')).toMatchObject({ state: 'failed', reason: 'killed by a user before a worker started it' });
    expect(await repos.runs.needingEvaluation(10)).toContain((await repos.runs.get('train_ml1m', 'r1'))!.pk);
    expect(changes).toBe(before + 1);
    await settled();
    for (const worker of ['worker-a', 'worker-b']) expect(received.get(worker)).toEqual([{ type: 'task.cancel', tiId: expect.any(Number), tryNumber: 1 }]);
  });

  it('ends a try waiting for its retry failed at once, telling no worker, even without a broker', async () => {
    received.get('worker-a')!.length = 0;
    const res = await kill(bare, 'report').expect(202);
    expect(res.body).toMatchObject({ sentTo: 'nobody', ended: true });
    expect(await tiOf('report')).toMatchObject({ state: 'failed', reason: 'killed by a user while it waited for its retry', nextRetryAt: null });
    await settled();
    expect(received.get('worker-a')).toEqual([]);
  });

  it('refuses a try that is not running, and names its state', async () => {
    const res = await kill(app, 'extract').expect(409);
    expect(res.body).toEqual({
      reason: 'task_not_running',
      message: 'train_ml1m.extract in run r1 is success, not running, queued or waiting for a retry: there is nothing to kill',
    });
  });

  it('answers 503 naming the setting when the server has no broker', async () => {
    const res = await kill(bare, 'train').expect(503);
    expect(res.body.reason).toBe('no_broker');
    expect(res.body.message).toContain('SWARMFLOW_AMQP_URL');
  });

  it('answers 503 naming the setting when the server cannot sign commands (no cluster key), changing nothing', async () => {
    const before = await tiOf('train');
    const res = await kill(keyless, 'train').expect(503);
    expect(res.body.reason).toBe('no_cluster_key');
    expect(res.body.message).toContain('SWARMFLOW_CLUSTER_KEY');
    expect(await tiOf('train')).toEqual(before);
  });
});
