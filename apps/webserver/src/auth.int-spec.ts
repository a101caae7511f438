import { Controller, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import type { Role, SerializedDag } from '@swarmflow/core';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClusterKey } from '@swarmflow/secrets';
import request from 'supertest';
import { Accounts } from './auth/accounts';
import { AUDIT_ACTION } from './auth/audit';
import { sha256 } from './auth/credentials';
import { PUBLIC_ROUTE, REQUIRED_ROLE, RequiresRole } from './http/auth/requires-role.decorator';
import type { AuditEntryDto, CreatedTokenDto, TokenDto } from '@swarmflow/contracts/api.types';
import { apiAs, createTestToken } from './test-support/auth';
import { seedDags, setRunStates, TRAIN_DAG } from './test-support/seed';
import { createWebserver } from './webserver';
import { WebserverModule } from './webserver.module';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface RouteCase {
  method: Method;
  /** The route as declared (to check the table covers every route). */
  route: string;
  /** A concrete path to call. */
  path: string;
  body?: unknown;
  /** The least role; null = public. */
  needs: Role | null;
}

// Every route of the API and the least role it needs (issue 13): viewer reads, operator acts
// on runs, admin owns variables, pool writes, users, tokens and the audit log.
const ROUTES: RouteCase[] = [
  { method: 'GET', route: 'health', path: 'health', needs: null },
  // Outside /api/v1, with its own rule (SWARMFLOW_METRICS_TOKEN; metrics.int-spec.ts).
  { method: 'GET', route: 'metrics', path: '../../metrics', needs: null },
  { method: 'GET', route: 'import-errors', path: 'import-errors', needs: 'viewer' },
  { method: 'GET', route: 'workers', path: 'workers', needs: 'viewer' },
  { method: 'GET', route: 'workers/:name', path: 'workers/no_such_worker', needs: 'viewer' },
  { method: 'POST', route: 'workers/:name/drain', path: 'workers/no_such_worker/drain', needs: 'operator' },
  { method: 'POST', route: 'workers/:name/shutdown', path: 'workers/no_such_worker/shutdown', needs: 'operator' },
  { method: 'POST', route: 'workers/:name/resume', path: 'workers/no_such_worker/resume', needs: 'operator' },
  { method: 'GET', route: 'queues', path: 'queues', needs: 'viewer' },
  { method: 'GET', route: 'autoscaler', path: 'autoscaler', needs: 'viewer' },
  { method: 'GET', route: 'pools', path: 'pools', needs: 'viewer' },
  { method: 'PUT', route: 'pools/:name', path: 'pools/auth_pool', body: { slots: 2 }, needs: 'admin' },
  { method: 'DELETE', route: 'pools/:name', path: 'pools/no_such_pool', needs: 'admin' },
  { method: 'GET', route: 'dags', path: 'dags', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId', path: 'dags/train_ml1m', needs: 'viewer' },
  { method: 'PATCH', route: 'dags/:dagId', path: 'dags/train_ml1m', body: { isPaused: false }, needs: 'operator' },
  { method: 'POST', route: 'dags/:dagId/runs', path: 'dags/train_ml1m/runs', body: {}, needs: 'operator' },
  { method: 'GET', route: 'dags/:dagId/runs', path: 'dags/train_ml1m/runs', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/runs/:runId', path: 'dags/train_ml1m/runs/r1', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/runs/:runId/tasks/:taskId', path: 'dags/train_ml1m/runs/r1/tasks/extract', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/runs/:runId/tasks/:taskId/logs', path: 'dags/train_ml1m/runs/r1/tasks/extract/logs', needs: 'viewer' },
  // An unknown task: a known one's stream stays open while its try may still write.
  { method: 'GET', route: 'dags/:dagId/runs/:runId/tasks/:taskId/logs/stream', path: 'dags/train_ml1m/runs/r1/tasks/no_such_task/logs/stream', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/versions/:versionHash', path: 'dags/train_ml1m/versions/no_such_version', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/grid', path: 'dags/train_ml1m/grid', needs: 'viewer' },
  { method: 'POST', route: 'dags/:dagId/runs/:runId/tasks/:taskId/clear', path: 'dags/train_ml1m/runs/r1/tasks/extract/clear', body: {}, needs: 'operator' },
  { method: 'POST', route: 'dags/:dagId/runs/:runId/tasks/:taskId/kill', path: 'dags/train_ml1m/runs/r1/tasks/extract/kill', needs: 'operator' },
  { method: 'POST', route: 'dags/:dagId/runs/:runId/tasks/:taskId/mark', path: 'dags/train_ml1m/runs/r1/tasks/extract/mark', body: { state: 'success', dryRun: true }, needs: 'operator' },
  { method: 'POST', route: 'dags/:dagId/runs/:runId/cancel', path: 'dags/train_ml1m/runs/no_such_run/cancel', needs: 'operator' },
  { method: 'POST', route: 'dags/:dagId/backfills', path: 'dags/train_ml1m/backfills', body: { from: '2024-01-01', to: '2024-01-02', dryRun: true }, needs: 'operator' },
  { method: 'GET', route: 'dags/:dagId/backfills', path: 'dags/train_ml1m/backfills', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/backfills/:backfillId', path: 'dags/train_ml1m/backfills/999999', needs: 'viewer' },
  { method: 'POST', route: 'dags/:dagId/backfills/:backfillId/pause', path: 'dags/train_ml1m/backfills/999999/pause', needs: 'operator' },
  { method: 'GET', route: 'dags/:dagId/runs/:runId/tasks/:taskId/artifacts', path: 'dags/train_ml1m/runs/r1/tasks/extract/artifacts', needs: 'viewer' },
  { method: 'GET', route: 'dags/:dagId/versions', path: 'dags/train_ml1m/versions', needs: 'viewer' },
  { method: 'POST', route: 'dags/:dagId/runs/:runId/upgrade', path: 'dags/train_ml1m/runs/r1/upgrade', body: { dryRun: true }, needs: 'operator' },
  { method: 'GET', route: 'runs', path: 'runs', needs: 'viewer' },
  { method: 'GET', route: 'cache', path: 'cache', needs: 'viewer' },
  { method: 'POST', route: 'cache/invalidate', path: 'cache/invalidate', body: { key: '0'.repeat(64) }, needs: 'admin' },
  { method: 'GET', route: 'variables', path: 'variables', needs: 'admin' },
  { method: 'GET', route: 'variables/export', path: 'variables/export', needs: 'admin' },
  { method: 'POST', route: 'variables/import', path: 'variables/import', body: { variables: {} }, needs: 'admin' },
  { method: 'GET', route: 'variables/:key', path: 'variables/no_such_key', needs: 'admin' },
  { method: 'PUT', route: 'variables/:key', path: 'variables/auth_var', body: { value: 'x' }, needs: 'admin' },
  { method: 'DELETE', route: 'variables/:key', path: 'variables/no_such_key', needs: 'admin' },
  { method: 'POST', route: 'auth/login', path: 'auth/login', body: { name: 'nobody', password: 'wrong-password' }, needs: null },
  { method: 'POST', route: 'auth/logout', path: 'auth/logout', needs: 'viewer' },
  { method: 'GET', route: 'auth/me', path: 'auth/me', needs: 'viewer' },
  { method: 'GET', route: 'users', path: 'users', needs: 'admin' },
  { method: 'GET', route: 'users/:name', path: 'users/no_such_user', needs: 'admin' },
  { method: 'POST', route: 'users', path: 'users', body: { name: 'x!', role: 'viewer' }, needs: 'admin' },
  { method: 'PATCH', route: 'users/:name', path: 'users/no_such_user', body: { role: 'viewer' }, needs: 'admin' },
  { method: 'PUT', route: 'users/:name/password', path: 'users/no_such_user/password', body: { password: 'long-enough-1' }, needs: 'admin' },
  { method: 'DELETE', route: 'users/:name', path: 'users/no_such_user', needs: 'admin' },
  // Every user lists and revokes their own tokens; an admin, everyone's (tokens.int-spec below).
  { method: 'GET', route: 'tokens', path: 'tokens', needs: 'viewer' },
  { method: 'POST', route: 'tokens', path: 'tokens', body: { name: '' }, needs: 'admin' },
  { method: 'DELETE', route: 'tokens/:id', path: 'tokens/999999', needs: 'viewer' },
  { method: 'GET', route: 'audit', path: 'audit', needs: 'admin' },
  // A stream: with a valid query it never ends; a bad one answers 400 once the role is checked.
  { method: 'GET', route: 'events', path: 'events?types=none', needs: 'viewer' },
  { method: 'GET', route: 'tries', path: 'tries', needs: 'viewer' },
  { method: 'GET', route: 'queues/history', path: 'queues/history', needs: 'viewer' },
];

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Every route the webserver declares, as `METHOD path` (from the controllers' metadata), with its audit action. */
function declaredRoutes(): { key: string; explicit: boolean; audit?: string }[] {
  const controllers = WebserverModule.forRoot({ repos: null as unknown as Repositories }).controllers ?? [];
  const routes: { key: string; explicit: boolean; audit?: string }[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '').replace(/^\/|\/$/g, '');
    const classRole = Reflect.getMetadata(REQUIRED_ROLE, controller) !== undefined || Reflect.getMetadata(PUBLIC_ROUTE, controller) === true;
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = controller.prototype[name];
      if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
      const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '').replace(/^\/|\/$/g, '');
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const explicit = classRole || Reflect.getMetadata(REQUIRED_ROLE, handler) !== undefined || Reflect.getMetadata(PUBLIC_ROUTE, handler) === true;
      routes.push({ key: `${method} ${[base, sub].filter(Boolean).join('/')}`, explicit, audit: Reflect.getMetadata(AUDIT_ACTION, handler) });
    }
  }
  return routes;
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWithPostgres('API authentication, roles and audit', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let proxied: INestApplication;
  let dag: SerializedDag;
  let now = new Date('2025-03-01T12:00:00.000Z');
  const clock = () => now;
  const tokens = {} as Record<Role, string>;
  const SECRET = 'hunter2-audit-never-sees-this';

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    repos = new Repositories(db);
    [dag] = await seedDags(repos, [TRAIN_DAG], now);
    app = await createWebserver({ repos, logger: false, clock, clusterKey: ClusterKey.generate(), auth: { loginFailuresPerUser: 3, loginFailuresPerIp: 50 } });
    proxied = await createWebserver({
      repos, logger: false, clock, auth: { trustedProxies: ['loopback'], proxyUserHeader: 'X-Forwarded-User' },
    });
    for (const role of ROLES) tokens[role] = await createTestToken(repos, role, `the-${role}`);
    await apiAs(app, tokens.operator).post('/api/v1/dags/train_ml1m/runs').send({ runId: 'r1' }).expect(201);
    await new Accounts(repos, clock).createUser({ name: 'alice', role: 'operator', password: 'alice-password-1' });
  });

  afterAll(async () => {
    await app?.close();
    await proxied?.close();
    await db?.close();
    await testDb?.drop();
  });

  const call = (server: INestApplication, c: Pick<RouteCase, 'method' | 'path' | 'body'>, token?: string) => {
    let req = request(server.getHttpServer())[c.method.toLowerCase() as 'get'](`/api/v1/${c.path}`);
    if (token) req = req.set('Authorization', `Bearer ${token}`);
    return c.body === undefined ? req : req.send(c.body as object);
  };

  describe('role × route', () => {
    it('every write route names its audit action (`@Audit`)', () => {
      const writes = declaredRoutes().filter((r) => !r.key.startsWith('GET '));
      expect(writes.length).toBeGreaterThan(20);
      expect(writes.filter((r) => !r.audit).map((r) => r.key)).toEqual([]);
    });

    it('covers every declared route, and every route states its role', () => {
      const declared = declaredRoutes();
      expect(declared.filter((r) => !r.explicit).map((r) => r.key)).toEqual([]);
      const inTable = new Set(ROUTES.map((r) => `${r.method} ${r.route}`));
      const missing = declared.map((r) => r.key).filter((k) => !inTable.has(k));
      if (missing.length) {
        throw new Error(`routes missing from ROUTES in this file (add each with the least role it needs, e.g. ` +
          `{ method: 'POST', route: 'workers/:name/drain', path: 'workers/w1/drain', needs: 'operator' }): ${missing.join(', ')}`);
      }
    });

    it.each(ROUTES.filter((r) => r.needs !== null).map((r) => [`${r.method} /${r.path}`, r] as const))('%s: 401 without a caller', async (_, c) => {
      const res = await call(app, c).expect(401);
      expect(res.body).toEqual({ reason: 'unauthenticated', message: expect.stringContaining('Authorization: Bearer <token>') });
    });

    const cases = ROUTES.filter((r) => r.needs !== null && r.route !== 'auth/logout').flatMap((r) => ROLES.map((role) => [`${r.method} /${r.path} as ${role}`, r, role] as const));
    it.each(cases)('%s', async (_, c, role) => {
      const res = await call(app, c, tokens[role]);
      if (RANK[role] < RANK[c.needs!]) {
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ reason: 'forbidden', message: expect.stringContaining(`needs role ${c.needs}; you are ${role}`) });
      } else {
        expect([401, 403]).not.toContain(res.status);
        // kill, worker commands and queues answer 503 no_broker here: this server has no broker.
        const needsBroker = c.route.endsWith('/kill') || c.route.startsWith('workers/:name/') || c.route === 'queues';
        expect(res.status).toBeLessThan(needsBroker ? 504 : 500);
      }
    });

    it('GET /health and POST /auth/login need no caller', async () => {
      expect((await call(app, { method: 'GET', path: 'health' }).expect(200)).body).toMatchObject({ status: 'ok' });
      const res = await call(app, { method: 'POST', path: 'auth/login', body: { name: 'nobody', password: 'wrong-password' } }).expect(401);
      expect(res.body).toEqual({ reason: 'unauthenticated', message: 'wrong user name or password (or the user is disabled)' });
    });

    it('logout is open to every role (and revokes the token that called it)', async () => {
      for (const role of ROLES) {
        const token = await createTestToken(repos, role, `the-${role}`);
        await call(app, { method: 'POST', path: 'auth/logout' }, token).expect(204);
        expect((await call(app, { method: 'GET', path: 'auth/me' }, token).expect(401)).body.message).toContain('revoked');
      }
    });
  });

  describe('tokens', () => {
    it('refuses a malformed or unknown token, and a header that is not Bearer', async () => {
      expect((await call(app, { method: 'GET', path: 'dags' }, 'nonsense').expect(401)).body.message).toContain('not a Swarmflow API token');
      expect((await call(app, { method: 'GET', path: 'dags' }, `sfw_${'A'.repeat(43)}`).expect(401)).body.message).toContain('not known to this server');
      const res = await request(app.getHttpServer()).get('/api/v1/dags').set('Authorization', 'Basic YWRtaW46YWRtaW4=').expect(401);
      expect(res.body.message).toContain('must be "Bearer <token>"');
    });

    it('creates a token once, lists it without its secret, and stores only its hash', async () => {
      const created = (await apiAs(app, tokens.admin).post('/api/v1/tokens').send({ name: 'ci', user: 'alice', expiresIn: '90d' }).expect(201)).body as CreatedTokenDto;
      expect(created).toMatchObject({ name: 'ci', user: 'alice', expiresAt: new Date(now.getTime() + 90 * 86_400_000).toISOString(), revokedAt: null });
      expect(created.token).toMatch(/^sfw_[A-Za-z0-9_-]{43}$/);
      expect(created.prefix).toBe(created.token.slice(0, 12));
      const listed = (await apiAs(app, tokens.admin).get('/api/v1/tokens?user=alice').expect(200)).body as TokenDto[];
      expect(listed.find((t) => t.id === created.id)).toEqual({ ...created, token: undefined, lastUsedAt: null });
      expect(JSON.stringify(listed)).not.toContain(created.token);
      const [row] = await db.query(`SELECT token_hash FROM api_token WHERE id = $1`, [created.id]);
      expect(row.token_hash).toBe(sha256(created.token));
      expect((await db.query(`SELECT count(*)::int AS n FROM api_token WHERE token_hash = $1`, [created.token]))[0].n).toBe(0);
      await apiAs(app, created.token).get('/api/v1/auth/me').expect(200, { name: 'alice', role: 'operator', method: 'token' });
    });

    it('stops working when it expires', async () => {
      const accounts = new Accounts(repos, clock);
      const { token } = await accounts.createToken({ name: 'short', userName: 'alice', lifetimeMs: 3_600_000 });
      await apiAs(app, token).get('/api/v1/dags').expect(200);
      const start = now;
      now = new Date(start.getTime() + 3_600_000);
      try {
        expect((await apiAs(app, token).get('/api/v1/dags').expect(401)).body.message).toContain('has expired');
      } finally {
        now = start;
      }
    });

    it('stops working at once when revoked', async () => {
      const created = (await apiAs(app, tokens.admin).post('/api/v1/tokens').send({ name: 'to-revoke', user: 'alice' }).expect(201)).body as CreatedTokenDto;
      await apiAs(app, created.token).get('/api/v1/dags').expect(200);
      const revoked = (await apiAs(app, tokens.admin).delete(`/api/v1/tokens/${created.id}`).expect(200)).body as TokenDto;
      expect(revoked.revokedAt).toBe(now.toISOString());
      expect((await apiAs(app, created.token).get('/api/v1/dags').expect(401)).body.message).toContain('revoked');
    });

    it('a user lists and revokes their own tokens only; an admin sees and revokes everyone\'s', async () => {
      const accounts = new Accounts(repos, clock);
      const bob = await createTestToken(repos, 'viewer', 'bob-own');
      const bobSecond = (await accounts.createToken({ name: 'bob-ci', userName: 'bob-own', lifetimeMs: null })).info;
      const alices = (await accounts.createToken({ name: 'alice-own', userName: 'alice', lifetimeMs: null })).info;

      const own = (await apiAs(app, bob).get('/api/v1/tokens').expect(200)).body as TokenDto[];
      expect(own.map((t) => t.user)).toEqual(['bob-own', 'bob-own']);
      expect(own.map((t) => t.name).sort()).toEqual(['bob-ci', 'test']);
      expect((await apiAs(app, bob).get('/api/v1/tokens?user=bob-own').expect(200)).body).toHaveLength(2);
      const other = await apiAs(app, bob).get('/api/v1/tokens?user=alice').expect(403);
      expect(other.body).toEqual({ reason: 'forbidden', message: expect.stringContaining('listing the tokens of another user ("alice") needs role admin; you are viewer') });

      const refused = await apiAs(app, bob).delete(`/api/v1/tokens/${alices.id}`).expect(403);
      expect(refused.body.message).toContain("revoking another user's token needs role admin; you are viewer");
      expect((await repos.tokens.get(alices.id))!.revokedAt).toBeNull();
      expect((await apiAs(app, bob).delete(`/api/v1/tokens/${bobSecond.id}`).expect(200)).body).toMatchObject({ id: bobSecond.id, revokedAt: now.toISOString() });
      const denied = await eventually(async () => (await repos.audit.list({ limit: 100, actor: 'bob-own', action: 'token.revoke' })).find((e) => e.status === 403), 'the refused revoke in the audit log');
      expect(denied).toMatchObject({ target: 'alice', outcome: 'denied', detail: { tokenId: alices.id } });

      const all = (await apiAs(app, tokens.admin).get('/api/v1/tokens').expect(200)).body as TokenDto[];
      expect(all.map((t) => t.user)).toEqual(expect.arrayContaining(['bob-own', 'alice']));
      await apiAs(app, tokens.admin).delete(`/api/v1/tokens/${alices.id}`).expect(200);
    });

    it('records the last use at most once a minute', async () => {
      const { token, info } = await new Accounts(repos, clock).createToken({ name: 'touch', userName: 'alice', lifetimeMs: null });
      const lastUsed = async () => (await repos.tokens.get(info.id))!.lastUsedAt?.toISOString();
      const start = now;
      try {
        await apiAs(app, token).get('/api/v1/dags').expect(200);
        expect(await lastUsed()).toBe(start.toISOString());
        now = new Date(start.getTime() + 30_000);
        await apiAs(app, token).get('/api/v1/dags').expect(200);
        expect(await lastUsed()).toBe(start.toISOString());
        now = new Date(start.getTime() + 61_000);
        await apiAs(app, token).get('/api/v1/dags').expect(200);
        expect(await lastUsed()).toBe(now.toISOString());
      } finally {
        now = start;
      }
    });

    it("stops working when its user is disabled, and again when enabled", async () => {
      const accounts = new Accounts(repos, clock);
      await accounts.createUser({ name: 'bob', role: 'viewer', password: null });
      const { token } = await accounts.createToken({ name: 'bob', userName: 'bob', lifetimeMs: null });
      await apiAs(app, tokens.admin).patch('/api/v1/users/bob').send({ disabled: true }).expect(200);
      expect((await apiAs(app, token).get('/api/v1/dags').expect(401)).body.message).toContain('disabled');
      await apiAs(app, tokens.admin).patch('/api/v1/users/bob').send({ disabled: false }).expect(200);
      await apiAs(app, token).get('/api/v1/dags').expect(200);
    });
  });

  describe('users', () => {
    it('creates, lists, changes and deletes users; never shows a password', async () => {
      const admin = apiAs(app, tokens.admin);
      const created = await admin.post('/api/v1/users').send({ name: 'carol', role: 'viewer', password: 'carol-password-1' }).expect(201);
      expect(created.body).toEqual({ name: 'carol', role: 'viewer', disabled: false, hasPassword: true, createdAt: now.toISOString(), updatedAt: now.toISOString() });
      const [row] = await db.query(`SELECT password_hash FROM app_user WHERE name = 'carol'`);
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      const list = await admin.get('/api/v1/users').expect(200);
      expect(JSON.stringify(list.body)).not.toMatch(/argon2|carol-password/);
      await admin.post('/api/v1/users').send({ name: 'carol', role: 'viewer' }).expect(409);
      expect((await admin.post('/api/v1/users').send({ name: 'dave', role: 'viewer', password: 'short' }).expect(400)).body)
        .toEqual({ reason: 'invalid_request', field: 'password', message: 'password: must be at least 8 characters' });
      expect((await admin.patch('/api/v1/users/carol').send({ role: 'operator' }).expect(200)).body.role).toBe('operator');
      await admin.put('/api/v1/users/carol/password').send({ password: 'carol-password-2' }).expect(204);
      await call(app, { method: 'POST', path: 'auth/login', body: { name: 'carol', password: 'carol-password-1' } }).expect(401);
      await call(app, { method: 'POST', path: 'auth/login', body: { name: 'carol', password: 'carol-password-2' } }).expect(200);
      await admin.delete('/api/v1/users/carol').expect(204);
      await admin.get('/api/v1/users/carol').expect(404);
    });

    it('refuses to demote, disable or delete the last admin', async () => {
      const admin = apiAs(app, tokens.admin);
      for (const attempt of [
        admin.patch('/api/v1/users/the-admin').send({ role: 'viewer' }),
        admin.patch('/api/v1/users/the-admin').send({ disabled: true }),
        admin.delete('/api/v1/users/the-admin'),
      ]) {
        const res = await attempt.expect(409);
        expect(res.body).toEqual({ reason: 'last_admin', message: expect.stringContaining('it is the last admin') });
      }
    });
  });

  describe('browser sessions', () => {
    const login = (name: string, password: string) => call(app, { method: 'POST', path: 'auth/login', body: { name, password } });

    it('sets an HttpOnly, SameSite cookie, and cookie writes need the CSRF header', async () => {
      const res = await login('alice', 'alice-password-1').expect(200);
      const cookies = res.headers['set-cookie'] as unknown as string[];
      const session = cookies.find((c) => c.startsWith('swarmflow_session='))!;
      expect(session).toMatch(/HttpOnly/);
      expect(session).toMatch(/SameSite=Lax/);
      expect(session).not.toMatch(/Secure/);
      expect(cookies.find((c) => c.startsWith('swarmflow_csrf='))).not.toMatch(/HttpOnly/);
      const csrf = res.body.csrfToken as string;
      expect(res.body).toEqual({ name: 'alice', role: 'operator', method: 'session', csrfToken: csrf });
      const cookie = session.split(';')[0];
      const server = request(app.getHttpServer());

      await server.get('/api/v1/auth/me').set('Cookie', cookie).expect(200, { name: 'alice', role: 'operator', method: 'session', csrfToken: csrf });
      const refused = await server.patch('/api/v1/dags/train_ml1m').set('Cookie', cookie).send({ isPaused: false }).expect(403);
      expect(refused.body.reason).toBe('csrf_failed');
      await server.patch('/api/v1/dags/train_ml1m').set('Cookie', cookie).set('X-CSRF-Token', 'wrong').send({ isPaused: false }).expect(403);
      await server.patch('/api/v1/dags/train_ml1m').set('Cookie', cookie).set('X-CSRF-Token', csrf).send({ isPaused: false }).expect(200);
      // The role still applies to a session.
      expect((await server.put('/api/v1/pools/x').set('Cookie', cookie).set('X-CSRF-Token', csrf).send({ slots: 1 }).expect(403)).body.message)
        .toContain('needs role admin; you are operator');

      await server.post('/api/v1/auth/logout').set('Cookie', cookie).set('X-CSRF-Token', csrf).expect(204);
      expect((await server.get('/api/v1/auth/me').set('Cookie', cookie).expect(401)).body.message).toContain('session has ended');
    });

    it('ends when it expires', async () => {
      const res = await login('alice', 'alice-password-1').expect(200);
      const cookie = (res.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
      const start = now;
      now = new Date(start.getTime() + 12 * 3_600_000);
      try {
        await request(app.getHttpServer()).get('/api/v1/auth/me').set('Cookie', cookie).expect(401);
      } finally {
        now = start;
      }
    });

    it('marks the cookie Secure behind a trusted TLS proxy', async () => {
      const res = await request(proxied.getHttpServer()).post('/api/v1/auth/login').set('X-Forwarded-Proto', 'https')
        .send({ name: 'alice', password: 'alice-password-1' }).expect(200);
      expect((res.headers['set-cookie'] as unknown as string[])[0]).toMatch(/; Secure/);
    });

    it('throttles guessing: past the limit even the right password waits', async () => {
      await new Accounts(repos, clock).createUser({ name: 'erin', role: 'viewer', password: 'erin-password-1' });
      for (let i = 0; i < 3; i++) await login('erin', `guess-${i}-wrong`).expect(401);
      const res = await login('erin', 'erin-password-1').expect(429);
      expect(res.body).toEqual({ reason: 'too_many_attempts', message: expect.stringMatching(/try again in \d+s/) });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // The guesses and the throttled attempt are in the audit log, each refused, never with a password.
      const attempts = await eventually(async () => {
        const rows = (await repos.audit.list({ limit: 100, action: 'auth.login' })).filter((e) => e.target === 'erin');
        return rows.length >= 4 ? rows : undefined;
      }, 'four audited login attempts of erin');
      expect(attempts.map((e) => e.status).sort()).toEqual([401, 401, 401, 429]);
      expect(attempts.every((e) => e.outcome === 'denied')).toBe(true);
      expect(JSON.stringify(attempts)).not.toMatch(/guess-|erin-password/);
      const start = now;
      now = new Date(start.getTime() + 15 * 60_000 + 1);
      try {
        await login('erin', 'erin-password-1').expect(200);
      } finally {
        now = start;
      }
    });
  });

  describe('trusted proxy header', () => {
    it('takes the user from the header only from a trusted proxy', async () => {
      await request(proxied.getHttpServer()).get('/api/v1/auth/me').set('X-Forwarded-User', 'alice')
        .expect(200, { name: 'alice', role: 'operator', method: 'proxy' });
      await request(app.getHttpServer()).get('/api/v1/auth/me').set('X-Forwarded-User', 'alice').expect(401);
      expect((await request(proxied.getHttpServer()).get('/api/v1/auth/me').set('X-Forwarded-User', 'mallory').expect(401)).body.message)
        .toContain('is not a user here');
    });

    it('ignores the header from an address that is not a configured proxy, even with the header mode on', async () => {
      const elsewhere = await createWebserver({ repos, logger: false, clock, auth: { trustedProxies: ['10.9.9.9'], proxyUserHeader: 'X-Forwarded-User' } });
      try {
        const res = await request(elsewhere.getHttpServer()).get('/api/v1/auth/me').set('X-Forwarded-User', 'alice').expect(401);
        expect(res.body.reason).toBe('unauthenticated');
        // A token still works there.
        await apiAs(elsewhere, tokens.viewer).get('/api/v1/auth/me').expect(200);
      } finally {
        await elsewhere.close();
      }
    });

    it('audits a proxy-authenticated write with the user, the proxy method and the client address the proxy forwarded', async () => {
      await request(proxied.getHttpServer()).patch('/api/v1/dags/train_ml1m').set('X-Forwarded-User', 'alice')
        .set('X-Forwarded-For', '203.0.113.7').send({ isPaused: false }).expect(200);
      const entry = await eventually(async () => (await repos.audit.list({ limit: 50, actor: 'alice', action: 'dag.pause' })).find((e) => e.method === 'proxy'), 'the proxied write in the audit log');
      expect(entry).toMatchObject({ actor: 'alice', method: 'proxy', sourceIp: '203.0.113.7', outcome: 'ok' });
    });

    it('refuses a proxy-authenticated write from another site\'s page (the proxy\'s own cookie would ride along)', async () => {
      const write = () => request(proxied.getHttpServer()).patch('/api/v1/dags/train_ml1m').set('X-Forwarded-User', 'alice').send({ isPaused: false });
      const foreign = await write().set('Origin', 'https://evil.example').expect(403);
      expect(foreign.body).toEqual({ reason: 'csrf_failed', message: expect.stringContaining('came from the page at "https://evil.example"') });
      // The server's own page (Origin = the Host it was reached by), and a client with no Origin, may write.
      await write().set('Host', 'swarmflow.example:8080').set('Origin', 'https://swarmflow.example:8080').expect(200);
      await write().expect(200);
      // Reads are not writes.
      await request(proxied.getHttpServer()).get('/api/v1/auth/me').set('X-Forwarded-User', 'alice').set('Origin', 'https://evil.example').expect(200);
    });
  });

  describe('audit log', () => {
    const auditFor = (action: string, match: (e: AuditEntryDto) => boolean = () => true) => eventually(async () => {
      const res = await apiAs(app, tokens.admin).get(`/api/v1/audit?action=${encodeURIComponent(action)}&limit=1000`).expect(200);
      return (res.body as AuditEntryDto[]).find(match);
    }, `an audit entry ${action}`);

    it('records every kind of write with who, what, outcome and from where; never a secret value', async () => {
      const admin = apiAs(app, tokens.admin);
      const operator = apiAs(app, tokens.operator);
      await operator.post('/api/v1/dags/train_ml1m/runs').send({ runId: 'audited' }).expect(201);
      await setRunStates(repos, (await repos.runs.get('train_ml1m', 'audited'))!, dag, 'running', { extract: { state: 'failed', tryNumber: 1 } });
      await operator.patch('/api/v1/dags/train_ml1m').send({ isPaused: true }).expect(200);
      await operator.patch('/api/v1/dags/train_ml1m').send({ isPaused: false }).expect(200);
      await operator.post('/api/v1/dags/train_ml1m/runs/audited/tasks/extract/clear').send({}).expect(200);
      await operator.post('/api/v1/dags/train_ml1m/runs/audited/tasks/extract/kill');
      await operator.post('/api/v1/dags/train_ml1m/runs/audited/tasks/lint/mark').send({ state: 'success' }).expect(200);
      await operator.post('/api/v1/dags/train_ml1m/runs/audited/cancel').expect(200);
      await operator.post('/api/v1/workers/no_such_worker/drain').expect(503); // this server has no broker
      await admin.post('/api/v1/variables/import').send({ variables: { imported_key: 'x' } }).expect(200);
      await admin.put('/api/v1/variables/s3_secret').send({ value: SECRET, secret: true }).expect(201);
      await admin.delete('/api/v1/variables/s3_secret').expect(204);
      await admin.put('/api/v1/pools/audit_pool').send({ slots: 3 }).expect(201);
      await admin.delete('/api/v1/pools/audit_pool').expect(204);
      await admin.post('/api/v1/users').send({ name: 'frank', role: 'viewer', password: SECRET }).expect(201);
      await admin.patch('/api/v1/users/frank').send({ role: 'operator' }).expect(200);
      await admin.put('/api/v1/users/frank/password').send({ password: `${SECRET}2` }).expect(204);
      const token = (await admin.post('/api/v1/tokens').send({ name: 'audited', user: 'frank' }).expect(201)).body as CreatedTokenDto;
      await admin.delete(`/api/v1/tokens/${token.id}`).expect(200);
      await admin.delete('/api/v1/users/frank').expect(204);
      await call(app, { method: 'POST', path: 'auth/login', body: { name: 'alice', password: 'not-alices-password' } }).expect(401);
      await call(app, { method: 'POST', path: 'auth/login', body: { name: 'alice', password: 'alice-password-1' } }).expect(200);
      await apiAs(app, tokens.viewer).post('/api/v1/dags/train_ml1m/runs').send({}).expect(403);
      await call(app, { method: 'DELETE', path: 'variables/x' }).expect(401);

      const expectEntry = async (action: string, fields: Partial<AuditEntryDto>, match?: (e: AuditEntryDto) => boolean) => {
        expect(await auditFor(action, match)).toMatchObject(fields);
      };
      const local = expect.stringMatching(/127\.0\.0\.1|::1/);
      await expectEntry('dag.trigger', { actor: 'the-operator', method: 'token', target: 'dags/train_ml1m/runs', outcome: 'ok', status: 201, sourceIp: local }, (e) => e.outcome === 'ok');
      await expectEntry('dag.pause', { actor: 'the-operator', target: 'dags/train_ml1m', outcome: 'ok', status: 200 });
      await expectEntry('task.clear', { actor: 'the-operator', target: 'dags/train_ml1m/runs/audited/tasks/extract/clear', outcome: 'ok' });
      await expectEntry('task.kill', { actor: 'the-operator', target: 'dags/train_ml1m/runs/audited/tasks/extract/kill' });
      await expectEntry('task.mark', { actor: 'the-operator', target: 'dags/train_ml1m/runs/audited/tasks/lint/mark', outcome: 'ok', detail: expect.objectContaining({ state: 'success', changed: ['lint'] }) });
      await expectEntry('worker.drain', { actor: 'the-operator', target: 'workers/no_such_worker/drain', outcome: 'failed', status: 503 });
      await expectEntry('variable.import', { actor: 'the-admin', outcome: 'ok', status: 200 });
      await expectEntry('run.cancel', { actor: 'the-operator', target: 'dags/train_ml1m/runs/audited/cancel', outcome: 'ok', status: 200 });
      await expectEntry('variable.set', { actor: 'the-admin', target: 'variables/s3_secret', outcome: 'ok', status: 201 });
      await expectEntry('variable.delete', { actor: 'the-admin', target: 'variables/s3_secret', outcome: 'ok', status: 204 }, (e) => e.status === 204);
      await expectEntry('pool.set', { target: 'pools/audit_pool', outcome: 'ok' });
      await expectEntry('pool.delete', { target: 'pools/audit_pool', outcome: 'ok' });
      await expectEntry('user.create', { target: 'frank', detail: { role: 'viewer' }, outcome: 'ok' });
      await expectEntry('user.update', { target: 'frank', detail: { role: 'operator' } });
      await expectEntry('user.password', { target: 'frank', outcome: 'ok' });
      await expectEntry('token.create', { target: 'frank', detail: { name: 'audited', tokenId: token.id } });
      await expectEntry('token.revoke', { target: 'frank', detail: { tokenId: token.id } });
      await expectEntry('user.delete', { target: 'frank', outcome: 'ok' });
      await expectEntry('auth.login', { actor: null, target: 'alice', outcome: 'denied', status: 401 }, (e) => e.outcome === 'denied' && e.target === 'alice');
      await expectEntry('auth.login', { actor: 'alice', target: 'alice', outcome: 'ok', status: 200 }, (e) => e.outcome === 'ok' && e.target === 'alice');
      await expectEntry('dag.trigger', { actor: 'the-viewer', outcome: 'denied', status: 403 }, (e) => e.actor === 'the-viewer');
      await expectEntry('variable.delete', { actor: null, method: null, target: 'variables/x', outcome: 'denied', status: 401 }, (e) => e.status === 401);

      const all = JSON.stringify((await admin.get('/api/v1/audit?limit=1000').expect(200)).body);
      expect(all).not.toContain(SECRET);
      expect(all).not.toContain(token.token);
      expect(all).not.toContain('alice-password-1');
      const logged = await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE detail::text LIKE $1 OR coalesce(target, '') LIKE $1`, [`%${SECRET}%`]);
      expect(logged[0].n).toBe(0);
    });

    it('audits a write route that names no action, as its method and route', async () => {
      @Controller('probe')
      class ProbeController {
        @Post(':name/drain')
        @RequiresRole('operator')
        @HttpCode(202)
        drain(): { ok: true } {
          return { ok: true };
        }
      }
      @Module({ imports: [WebserverModule.forRoot({ repos, clock })], controllers: [ProbeController] })
      class ProbeModule {}
      const probe = await NestFactory.create(ProbeModule, { logger: false });
      probe.setGlobalPrefix('api/v1');
      probe.useGlobalFilters(new ApiExceptionFilter(null));
      await probe.init();
      try {
        await apiAs(probe, tokens.viewer).post('/api/v1/probe/w1/drain').expect(403);
        await apiAs(probe, tokens.operator).post('/api/v1/probe/w1/drain').expect(202);
        expect(await auditFor('post probe/:name/drain', (e) => e.outcome === 'ok')).toMatchObject({ actor: 'the-operator', target: 'probe/w1/drain', status: 202 });
        expect(await auditFor('post probe/:name/drain', (e) => e.outcome === 'denied')).toMatchObject({ actor: 'the-viewer', status: 403 });
      } finally {
        await probe.close();
      }
    });

    it('lists entries since a time, newest first, and does not audit reads', async () => {
      const before = (await apiAs(app, tokens.admin).get('/api/v1/audit?limit=1000').expect(200)).body as AuditEntryDto[];
      await apiAs(app, tokens.admin).get('/api/v1/dags').expect(200);
      const after = (await apiAs(app, tokens.admin).get('/api/v1/audit?limit=1000').expect(200)).body as AuditEntryDto[];
      expect(after.length).toBe(before.length);
      const ats = after.map((e) => e.at);
      expect([...ats].sort().reverse()).toEqual(ats);
      expect((await apiAs(app, tokens.admin).get('/api/v1/audit?since=1h&limit=2').expect(200)).body).toHaveLength(2);
      const start = now;
      now = new Date(start.getTime() + 2 * 3_600_000);
      try {
        expect((await apiAs(app, tokens.admin).get('/api/v1/audit?since=1h').expect(200)).body).toEqual([]);
      } finally {
        now = start;
      }
      expect((await apiAs(app, tokens.admin).get('/api/v1/audit?since=yesterday').expect(400)).body.field).toBe('since');
    });
  });
});
