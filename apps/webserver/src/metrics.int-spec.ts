import type { INestApplication } from '@nestjs/common';
import { processMetrics } from '@swarmflow/observability';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import request from 'supertest';
import { seedDags, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { createTestToken } from './test-support/auth';

const TOKEN = 'c'.repeat(40);

describeWithPostgres('webserver GET /metrics', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  const apps: INestApplication[] = [];
  /** An API caller's header: the API needs one, /metrics has its own rule. */
  let viewer = '';

  const start = async (metricsAccess?: { token: string | null; open: boolean }) => {
    const app = await createWebserver({ repos, logger: false, metricsAccess });
    apps.push(app);
    return () => request(app.getHttpServer());
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 2 });
    repos = new Repositories(db);
    await seedDags(repos, [TRAIN_DAG], new Date('2025-03-01T12:00:00.000Z'));
    viewer = `Bearer ${await createTestToken(repos, 'viewer')}`;
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.close();
    await testDb?.drop();
  });

  it('serves the process registry at /metrics, outside /api/v1, counting requests by route template and status class', async () => {
    const api = await start({ token: null, open: true });
    await api().get('/api/v1/dags/train_ml1m').set('Authorization', viewer).expect(200);
    await api().get('/api/v1/dags/no_such_dag').set('Authorization', viewer).expect(404);
    await api().get('/api/v1/no/such/route/42').set('Authorization', viewer).expect(404);
    const res = await api().get('/metrics').expect(200);
    expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
    expect(res.text).toMatch(/swarmflow_http_requests_total\{method="GET",route="\/api\/v1\/dags\/:dagId",status_class="2xx"\} [1-9]/);
    expect(res.text).toMatch(/swarmflow_http_requests_total\{method="GET",route="\/api\/v1\/dags\/:dagId",status_class="4xx"\} [1-9]/);
    // A path no route matched is one series whatever it was: no ids in labels.
    expect(res.text).toMatch(/swarmflow_http_requests_total\{method="GET",route="unmatched",status_class="4xx"\} [1-9]/);
    expect(res.text).not.toContain('no_such_dag');
    expect(res.text).not.toContain('/no/such/route');
    expect(res.text).toContain('process_cpu_seconds_total');
    await api().get('/api/v1/metrics').expect(404);
  });

  it('is closed by default, naming the fixes', async () => {
    const api = await start();
    const res = await api().get('/metrics').expect(403);
    expect(res.text).toContain('SWARMFLOW_METRICS_TOKEN');
    expect(res.text).toContain('SWARMFLOW_METRICS_PUBLIC=true');
  });

  it('requires the bearer token when one is configured', async () => {
    const api = await start({ token: TOKEN, open: false });
    await api().get('/metrics').expect(401);
    await api().get('/metrics').set('authorization', 'Bearer wrong-token-wrong-token').expect(401);
    const res = await api().get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200);
    expect(res.text).toContain('swarmflow_http_requests_total');
    expect(processMetrics().registry.getSingleMetric('swarmflow_http_requests_total')).toBeDefined();
  });
});
