import type { INestApplication } from '@nestjs/common';
import type { ControlMessage, SerializedDag } from '@swarmflow/core';
import { controlQueue, EXCHANGES, MemoryBroker, taskQueue } from '@swarmflow/messaging';
import { Database, Repositories, type WorkerHeartbeat } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import request from 'supertest';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { createTestToken } from './test-support/auth';
import { ClusterKey, ControlSigner, type SignedControlEnvelope } from '@swarmflow/secrets';

describeWithPostgres('worker detail, worker commands and queues', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let bare: INestApplication;
  let dag: SerializedDag;
  const broker = new MemoryBroker();
  const clusterKey = ClusterKey.generate();
  const received: ControlMessage[] = [];
  const now = new Date('2025-03-01T12:00:00.000Z');
  const beat = (patch: Partial<WorkerHeartbeat> & { name: string }): WorkerHeartbeat => ({
    hostname: 'h1', queues: ['default'], concurrency: 4, gpus: 0, state: 'active', running: [], ...patch,
  });

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    await broker.start();
    await broker.consume<SignedControlEnvelope>(controlQueue('worker-a'), (m) => {
      // Workers obey only what is signed for the routing key it came on.
      const { issuedAt, control, sig } = m.body;
      if (!new ControlSigner(clusterKey).verify(issuedAt, m.routingKey, control, sig)) throw new Error(`unsigned control message: ${JSON.stringify(m.body)}`);
      received.push(JSON.parse(control) as ControlMessage);
      m.ack();
    }, { prefetch: 10 });
    await repos.workers.recordHeartbeats([
      beat({
        name: 'worker-a', queues: ['default', 'gpu'], gpus: 2, running: [{ tiId: 7, tryNumber: 1 }], processed: 12, failed: 3,
        startedAt: new Date(now.getTime() - 3_600_000), version: '0.1.0', unacked: { default: 2, gpu: 1 },
      }),
      beat({ name: 'worker-old' }),
      beat({ name: 'worker-stopping', state: 'stopping', unacked: { default: 1 } }),
      beat({ name: 'worker-stopped', state: 'stopped', unacked: { default: 5 } }),
    ], new Date(now.getTime() - 4_000));
    await repos.workers.recordHeartbeats([beat({ name: 'worker-lost' })], new Date(now.getTime() - 60_000));
    await db.query(`UPDATE worker SET state = 'lost' WHERE name = 'worker-lost'`);
    token = await createTestToken(repos, 'operator');
    app = await createWebserver({ repos, logger: false, clock: () => now, broker, clusterKey });
    bare = await createWebserver({ repos, logger: false, clock: () => now });
  });

  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await broker.close();
    await db?.close();
    await testDb?.drop();
  });

  let token = '';
  const api = (server: INestApplication = app) => request.agent(server.getHttpServer()).set('Authorization', `Bearer ${token}`);
  const settled = () => new Promise((r) => setImmediate(r));

  it('GET /workers/:name shows slots, GPUs, tries processed and failed, uptime, version and heartbeat age', async () => {
    const res = await api().get('/api/v1/workers/worker-a').expect(200);
    expect(res.body).toEqual({
      name: 'worker-a', hostname: 'h1', queues: ['default', 'gpu'], concurrency: 4, gpus: 2, state: 'active',
      running: [{ tiId: 7, tryNumber: 1 }], firstSeenAt: expect.any(String), lastHeartbeatAt: '2025-03-01T11:59:56.000Z',
      heartbeatAgeSeconds: 4, processed: 12, failed: 3, startedAt: '2025-03-01T11:00:00.000Z', uptimeSeconds: 3600,
      version: '0.1.0', unacked: { default: 2, gpu: 1 },
    });
  });

  it('GET /workers lists the same detail', async () => {
    const res = await api().get('/api/v1/workers').expect(200);
    expect(res.body.find((w: { name: string }) => w.name === 'worker-a')).toMatchObject({ processed: 12, uptimeSeconds: 3600, heartbeatAgeSeconds: 4 });
    expect(res.body.find((w: { name: string }) => w.name === 'worker-old')).toMatchObject({ processed: 0, failed: 0, startedAt: null, uptimeSeconds: null, version: null, unacked: {} });
  });

  it('an unknown worker is a 404 naming it; a malformed name a 400 naming the path parameter', async () => {
    expect((await api().get('/api/v1/workers/nobody').expect(404)).body).toEqual({
      reason: 'worker_not_found', message: expect.stringContaining('worker "nobody" is not known'),
    });
    expect((await api().post('/api/v1/workers/nobody/drain').expect(404)).body.reason).toBe('worker_not_found');
    const bad = await api().post('/api/v1/workers/.hidden/drain').expect(400);
    expect(bad.body).toMatchObject({ reason: 'invalid_request', field: 'name' });
  });

  it.each(['drain', 'shutdown', 'resume'] as const)('POST /workers/:name/%s sends the command to that worker (202)', async (command) => {
    received.length = 0;
    const res = await api().post(`/api/v1/workers/worker-a/${command}`).expect(202);
    expect(res.body).toEqual({ worker: 'worker-a', command, state: 'active', message: expect.stringContaining(`${command} sent to worker "worker-a"`) });
    await settled();
    expect(received).toEqual([{ type: `worker.${command}`, worker: 'worker-a' }]);
  });

  it.each([
    ['resume', 'worker-stopping', 'it is stopping'],
    ['drain', 'worker-stopping', 'it is stopping'],
    ['resume', 'worker-stopped', 'it has stopped'],
    ['shutdown', 'worker-stopped', 'it has stopped'],
    ['drain', 'worker-lost', 'it is lost'],
  ])('%s of %s is a 409 saying why', async (command, worker, why) => {
    const res = await api().post(`/api/v1/workers/${worker}/${command}`).expect(409);
    expect(res.body).toEqual({ reason: 'worker_state', message: expect.stringContaining(`cannot ${command} worker "${worker}": ${why}`) });
  });

  it('a shutdown of a stopping worker is a harmless repeat (202)', async () => {
    await api().post('/api/v1/workers/worker-stopping/shutdown').expect(202);
  });

  it('commands are signed: a server without the cluster key answers 503 naming SWARMFLOW_CLUSTER_KEY and sends nothing', async () => {
    const keyless = await createWebserver({ repos, logger: false, clock: () => now, broker });
    try {
      received.length = 0;
      const res = await api(keyless).post('/api/v1/workers/worker-a/drain').expect(503);
      expect(res.body).toMatchObject({ reason: 'no_cluster_key', message: expect.stringContaining('SWARMFLOW_CLUSTER_KEY') });
      await settled();
      expect(received).toEqual([]);
    } finally {
      await keyless.close();
    }
  });

  it('commands and queues need a broker: 503 naming SWARMFLOW_AMQP_URL', async () => {
    expect((await api(bare).post('/api/v1/workers/worker-a/drain').expect(503)).body.message).toContain('SWARMFLOW_AMQP_URL');
    expect((await api(bare).get('/api/v1/queues').expect(503)).body.reason).toBe('no_broker');
  });

  it('GET /queues: ready and consumers from the broker, unacked from live workers, topics of workers and of queued tasks', async () => {
    await broker.assertQueue(taskQueue('default'));
    for (let i = 0; i < 3; i++) await broker.publish(EXCHANGES.tasks, 'default', { i });
    await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'q1' }).expect(201);
    const stored = (await repos.runs.get('train_ml1m', 'q1'))!;
    await setRunStates(repos, stored, dag, 'running', { extract: { state: 'queued', tryNumber: 1 } });
    await db.query(`UPDATE task_instance SET queue = 'highmem' WHERE run_pk = $1 AND task_id = 'extract'`, [stored.pk]);
    const res = await api().get('/api/v1/queues').expect(200);
    const byName = new Map(res.body.map((q: { queue: string }) => [q.queue, q]));
    expect(byName.get('default')).toEqual({
      queue: 'default', declared: true, ready: 3, consumers: 0, unacked: 3,
      workers: [{ name: 'worker-a', state: 'active' }, { name: 'worker-old', state: 'active' }, { name: 'worker-stopping', state: 'stopping' }],
    });
    expect(byName.get('gpu')).toEqual({ queue: 'gpu', declared: false, ready: 0, consumers: 0, unacked: 1, workers: [{ name: 'worker-a', state: 'active' }] });
    // Queued there, and no worker serves it: the operator sees it.
    expect(byName.get('highmem')).toEqual({ queue: 'highmem', declared: false, ready: 0, consumers: 0, unacked: 0, workers: [] });
    expect([...byName.keys()]).toEqual(['default', 'gpu', 'highmem']);
  });

  it('shows why a queued try waits when no live worker serves its queue, in the run and the task instance', async () => {
    await api().post('/api/v1/dags/train_ml1m/runs').send({ runId: 'q2' }).expect(201);
    const stored = (await repos.runs.get('train_ml1m', 'q2'))!;
    await setRunStates(repos, stored, dag, 'running', { extract: { state: 'queued', tryNumber: 1 } });
    await db.query(`UPDATE task_instance SET queue = 'highmem' WHERE run_pk = $1 AND task_id = 'extract'`, [stored.pk]);
    const run = await api().get('/api/v1/dags/train_ml1m/runs/q2').expect(200);
    const extract = run.body.taskInstances.find((t: { taskId: string }) => t.taskId === 'extract');
    expect(extract.reason).toBe('no worker serves queue highmem (live workers serve default, gpu). Fix: start a worker with --queues highmem ' +
      '(on Docker Swarm: scale up the instance group whose queues include highmem, service <stack>_worker-<group>; see deploy/swarm/groups.yaml)');
    const ti = await api().get('/api/v1/dags/train_ml1m/runs/q2/tasks/extract').expect(200);
    expect(ti.body.reason).toBe(extract.reason);
    // A queue a live worker serves: no such reason.
    await db.query(`UPDATE task_instance SET queue = 'gpu' WHERE run_pk = $1 AND task_id = 'extract'`, [stored.pk]);
    const served = await api().get('/api/v1/dags/train_ml1m/runs/q2').expect(200);
    expect(served.body.taskInstances.find((t: { taskId: string }) => t.taskId === 'extract').reason).toBeNull();
  });
});
