import type { LoggerService } from '@nestjs/common';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { deleteRabbitMQTopology, rabbitmqUrl, describeWithRabbitMQ } from '@swarmflow/messaging/test-support/rabbitmq';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { startWebserver, type RunningWebserver } from './main';
import { TcpProxy } from './test-support/tcp-proxy';
import { createTestToken } from './test-support/auth';
import { Database, Repositories } from '@swarmflow/persistence';
import { DEFAULT_AUTH_OPTIONS } from './auth/auth-options';

/** A webserver config for these tests: auth defaults, no admin file (the tests make a token first). */
const base = { publicUrl: null, logLevel: 'log' as const, auth: DEFAULT_AUTH_OPTIONS, adminPasswordFile: null, adminUser: 'admin', auditRetentionMs: null };

/** An admin token on the database at `url`, made before the server starts (it refuses to start without an admin). */
async function adminToken(url: string): Promise<string> {
  const db = new Database({ url, poolSize: 1 });
  try {
    return await createTestToken(new Repositories(db));
  } finally {
    await db.close();
  }
}

const silent = { log: () => undefined, warn: () => undefined, error: () => undefined } as unknown as LoggerService;

function pgEndpoint(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432) };
}

describeWithPostgres('health and an unreachable database', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningWebserver;
  let token: string;
  const api = () => {
    const agent = request.agent(server.url);
    agent.set('Authorization', `Bearer ${token}`);
    return agent;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    token = await adminToken(testDb.url);
    proxy = await new TcpProxy(pgEndpoint(testDb.url)).start();
    server = await startWebserver(
      { databaseUrl: proxy.url(testDb.url), port: 0, host: '127.0.0.1', amqpUrl: null, brokerPrefix: 'unused.', ...base },
      silent as never,
    );
  });

  afterAll(async () => {
    await proxy?.restore().catch(() => undefined);
    await server?.close();
    await proxy?.cut();
    await testDb?.drop();
  });

  it('reports each dependency: 200 while the database answers, 503 naming it while it does not, 200 again after', async () => {
    expect((await api().get('/api/v1/health').expect(200)).body).toEqual({
      status: 'ok', dependencies: { database: { status: 'up' }, broker: { status: 'not_configured' } },
    });
    await api().get('/api/v1/dags').expect(200);

    await proxy.cut();
    const down = await api().get('/api/v1/health').expect(503);
    expect(down.body).toEqual({
      status: 'unavailable',
      dependencies: { database: { status: 'down', message: 'cannot query the database (connection refused)' }, broker: { status: 'not_configured' } },
    });
    // Nothing in the answer says where the database is.
    expect(JSON.stringify(down.body)).not.toContain(String(proxy.port));

    // Routes that need the database: 503 unavailable, not 500, for reads and writes alike.
    for (const res of [
      await api().get('/api/v1/dags'),
      await api().get('/api/v1/runs'),
      await api().post('/api/v1/dags/any/runs').send({}),
      await api().get('/api/v1/variables/x'),
    ]) {
      expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 503, reason: 'unavailable' });
      expect(res.body.message).toBe('the database cannot be reached (connection refused): try again shortly; GET /api/v1/health shows each dependency');
    }

    await proxy.restore();
    await waitUntil('health 200 after the database is back', async () => (await api().get('/api/v1/health')).status === 200, { timeoutMs: 10_000, intervalMs: 50 });
    await api().get('/api/v1/dags').expect(200);
  });
});

describeWithPostgres('health and the broker', () => {
  describeWithRabbitMQ('with RabbitMQ behind a proxy', () => {
    let testDb: TestDatabase;
    let proxy: TcpProxy;
    let server: RunningWebserver;
    const prefix = `swhealth-${randomBytes(4).toString('hex')}.`;
    const api = () => request(server.url);

    beforeAll(async () => {
      testDb = await createTestDatabase();
      await adminToken(testDb.url);
      const amqp = new URL(rabbitmqUrl());
      proxy = await new TcpProxy({ host: amqp.hostname, port: Number(amqp.port || 5672) }).start();
      server = await startWebserver(
        { databaseUrl: testDb.url, port: 0, host: '127.0.0.1', amqpUrl: proxy.url(rabbitmqUrl()), brokerPrefix: prefix, ...base },
        silent as never,
      );
    });

    afterAll(async () => {
      await server?.close();
      await proxy?.cut();
      await deleteRabbitMQTopology(prefix, []);
      await testDb?.drop();
    });

    it('answers 503 naming the broker while its connection is lost, and ok once it reconnects', async () => {
      expect((await api().get('/api/v1/health').expect(200)).body.dependencies).toEqual({ database: { status: 'up' }, broker: { status: 'up' } });
      await proxy.cut();
      const down = await waitUntil('health 503', async () => {
        const res = await api().get('/api/v1/health');
        return res.status === 503 ? res : null;
      }, { timeoutMs: 10_000, intervalMs: 50 });
      expect(down.body).toEqual({
        status: 'unavailable',
        dependencies: { database: { status: 'up' }, broker: { status: 'down', message: 'the broker connection is lost; reconnecting' } },
      });
      await proxy.restore();
      await waitUntil('health 200 after the broker reconnects', async () => (await api().get('/api/v1/health')).status === 200, { timeoutMs: 45_000, intervalMs: 100 });
    }, 60_000);
  });
});

describeWithPostgres('closing with a drain (SWARMFLOW_WEB_DRAIN)', () => {
  let testDb: TestDatabase;

  beforeAll(async () => { testDb = await createTestDatabase(); });
  afterAll(async () => { await testDb?.drop(); });

  it('still answers during the drain, each answer closing its connection, then stops listening', async () => {
    const token = await adminToken(testDb.url);
    const server = await startWebserver(
      { databaseUrl: testDb.url, port: 0, host: '127.0.0.1', amqpUrl: null, brokerPrefix: 'unused.', ...base, drainMs: 3000 },
      silent as never,
    );
    const closed = server.close();
    // Out of DNS, still reachable: a caller that has the address gets its answer.
    const during = await request(server.url).get('/api/v1/health').set('Authorization', `Bearer ${token}`);
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    await closed;
    await expect(request(server.url).get('/api/v1/health')).rejects.toThrow(/ECONNREFUSED/);
  });
});
