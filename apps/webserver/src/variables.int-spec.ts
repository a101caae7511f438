import type { INestApplication, LoggerService } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClusterKey, SecretDecryptError } from '@swarmflow/secrets';
import type { VariableDto, VariablesExportDto } from '@swarmflow/contracts/api.types';
import { VariablesService } from './services/variables.service';
import { createWebserver } from './webserver';
import { apiAs, createTestToken } from './test-support/auth';

/** Keeps every line the app logs, to check that no secret reaches the logs. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...parts: unknown[]) { this.lines.push(parts.map(String).join(' ')); }
  error(...parts: unknown[]) { this.lines.push(parts.map(String).join(' ')); }
  warn(...parts: unknown[]) { this.lines.push(parts.map(String).join(' ')); }
  debug(...parts: unknown[]) { this.lines.push(parts.map(String).join(' ')); }
  verbose(...parts: unknown[]) { this.lines.push(parts.map(String).join(' ')); }
}

describeWithPostgres('webserver variables API', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let keyless: INestApplication;
  const clusterKey = ClusterKey.generate();
  const logger = new CapturingLogger();
  const SECRET = 'hunter2-s3cr3t-value';
  let now = new Date('2025-03-01T12:00:00.000Z');
  let token: string;
  const api = () => apiAs(app, token);
  const storedValue = async (key: string): Promise<string> => (await db.query(`SELECT value FROM variable WHERE key = $1`, [key]))[0].value;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    app = await createWebserver({ repos, logger, clock: () => now, clusterKey });
    keyless = await createWebserver({ repos, logger: false, clock: () => now });
    token = await createTestToken(repos, 'admin');
  });

  afterAll(async () => {
    await app?.close();
    await keyless?.close();
    await db?.close();
    await testDb?.drop();
  });

  beforeEach(async () => {
    await db.query(`DELETE FROM variable`);
  });

  describe('plain variables', () => {
    it('creates with 201, replaces with 200, and reads them back', async () => {
      const created = await api().put('/api/v1/variables/region').send({ value: 'eu', description: 'default region' }).expect(201);
      expect(created.body).toEqual({ key: 'region', value: 'eu', secret: false, description: 'default region', updatedAt: now.toISOString() });
      now = new Date('2025-03-01T12:05:00.000Z');
      const updated = await api().put('/api/v1/variables/region').send({ value: 'us' }).expect(200);
      // An absent description keeps the current one.
      expect(updated.body).toEqual({ key: 'region', value: 'us', secret: false, description: 'default region', updatedAt: now.toISOString() });
      await api().get('/api/v1/variables/region').expect(200, updated.body);
      await api().put('/api/v1/variables/a.b_c-1').send({ value: '' }).expect(201);
      const list = await api().get('/api/v1/variables').expect(200);
      expect((list.body as VariableDto[]).map((v) => [v.key, v.value])).toEqual([['a.b_c-1', ''], ['region', 'us']]);
    });

    it('deletes with 204 and answers 404 for an unknown key', async () => {
      await api().put('/api/v1/variables/tmp').send({ value: 'x' }).expect(201);
      await api().delete('/api/v1/variables/tmp').expect(204, '');
      const missing = await api().get('/api/v1/variables/tmp').expect(404);
      expect(missing.body).toEqual({ reason: 'variable_not_found', message: 'variable "tmp" does not exist. List the variables with `swarmflow variables list`.' });
      const again = await api().delete('/api/v1/variables/tmp').expect(404);
      expect(again.body.reason).toBe('variable_not_found');
    });

    it.each([
      ['a%20b', 'key: must be 1 to 250 letters, digits, "_", "." or "-" (got "a b")'],
      ['k'.repeat(251), `key: must be 1 to 250 letters, digits, "_", "." or "-" (got "${'k'.repeat(251)}")`],
      ['a%2Fb', 'key: must be 1 to 250 letters, digits, "_", "." or "-" (got "a/b")'],
      ['...', 'key: cannot be made of dots only (got "...")'],
      ['export', 'key: "export" is reserved by the API (GET /variables/export): choose another key'],
    ])('rejects the key %s with a 400 naming it', async (key, message) => {
      const res = await api().put(`/api/v1/variables/${key}`).send({ value: 'x' }).expect(400);
      expect(res.body).toEqual({ reason: 'invalid_request', field: 'key', message });
    });

    it('rejects bad bodies naming the field', async () => {
      const missing = await api().put('/api/v1/variables/k').send({}).expect(400);
      expect(missing.body).toEqual({ reason: 'invalid_request', field: 'value', message: 'value: is required' });
      const number = await api().put('/api/v1/variables/k').send({ value: 5 }).expect(400);
      expect(number.body).toEqual({ reason: 'invalid_request', field: 'value', message: 'value: must be a string (store numbers and JSON as text)' });
      const unknown = await api().put('/api/v1/variables/k').send({ value: 'x', isSecret: true }).expect(400);
      expect(unknown.body).toEqual({
        reason: 'invalid_request', field: 'isSecret', message: 'isSecret: unknown body field (did you mean "secret"?); the body takes only value, secret, description',
      });
      expect(await repos.variables.list()).toEqual([]);
    });
  });

  describe('secrets', () => {
    it('stores a secret encrypted and never returns it', async () => {
      const created = await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      expect(created.body).toEqual({ key: 's3_key', value: '***', secret: true, description: '', updatedAt: now.toISOString() });
      const stored = await storedValue('s3_key');
      expect(stored).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
      expect(stored).not.toContain(SECRET);
      expect(clusterKey.decrypt(stored)).toBe(SECRET);

      const one = await api().get('/api/v1/variables/s3_key').expect(200);
      const list = await api().get('/api/v1/variables').expect(200);
      const exported = await api().get('/api/v1/variables/export').expect(200);
      for (const res of [created, one, list, exported]) expect(res.text).not.toContain(SECRET);
      expect(one.body.value).toBe('***');
      expect(list.body).toEqual([one.body]);
    });

    it('keeps a secret secret when it is set again without the flag, and turns it plain only when asked', async () => {
      await api().put('/api/v1/variables/token').send({ value: 'first', secret: true, description: 'api token' }).expect(201);
      const again = await api().put('/api/v1/variables/token').send({ value: 'second' }).expect(200);
      expect(again.body).toMatchObject({ value: '***', secret: true, description: 'api token' });
      expect(clusterKey.decrypt(await storedValue('token'))).toBe('second');
      const plain = await api().put('/api/v1/variables/token').send({ value: 'public', secret: false }).expect(200);
      expect(plain.body).toMatchObject({ value: 'public', secret: false });
      expect(await storedValue('token')).toBe('public');
    });

    it('resolves plaintext values for tasks, internally only', async () => {
      await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      await api().put('/api/v1/variables/region').send({ value: 'eu' }).expect(201);
      const resolved = await app.get(VariablesService).resolveForTask(['s3_key', 'region', 'missing']);
      expect(resolved).toEqual(new Map([['region', 'eu'], ['s3_key', SECRET]]));
    });

    it('names the variable when another cluster key encrypted it', async () => {
      await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      const other = await createWebserver({ repos, logger: false, clusterKey: ClusterKey.generate() });
      try {
        const failure = other.get(VariablesService).resolveForTask(['s3_key']);
        await expect(failure).rejects.toThrow(SecretDecryptError);
        await expect(other.get(VariablesService).resolveForTask(['s3_key'])).rejects.toThrow(/^variable "s3_key": the secret was encrypted with another cluster key/);
      } finally {
        await other.close();
      }
    });

    it('refuses secrets with a clear 400 when the server has no cluster key', async () => {
      const web = () => apiAs(keyless, token);
      const res = await web().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(400);
      expect(res.body).toEqual({
        reason: 'no_cluster_key', field: 'secret',
        message: expect.stringMatching(/^secret variables are encrypted with the cluster key, and this server has none: set SWARMFLOW_CLUSTER_KEY /),
      });
      // An existing secret stays secret, so setting it again needs the key too.
      await api().put('/api/v1/variables/kept').send({ value: SECRET, secret: true }).expect(201);
      await web().put('/api/v1/variables/kept').send({ value: 'other' }).expect(400);
      expect(clusterKey.decrypt(await storedValue('kept'))).toBe(SECRET);
      const imported = await web().post('/api/v1/variables/import').send({ variables: { a: 'x', b: { value: 'y', secret: true } } }).expect(400);
      expect(imported.body).toMatchObject({ reason: 'no_cluster_key', field: 'variables.b' });
      // Plain variables and reading secrets need no key.
      await web().put('/api/v1/variables/plain').send({ value: 'x' }).expect(201);
      expect((await web().get('/api/v1/variables/kept').expect(200)).body.value).toBe('***');
      expect((await repos.variables.list()).map((v) => v.key)).toEqual(['kept', 'plain']);
    });
  });

  describe('import and export', () => {
    it('imports plain strings and entries with flags, and counts what it did', async () => {
      await api().put('/api/v1/variables/region').send({ value: 'eu', description: 'kept' }).expect(201);
      const res = await api().post('/api/v1/variables/import').send({
        variables: { region: 'us', bucket: { value: 'data', description: 'raw data' }, s3_key: { value: SECRET, secret: true } },
      }).expect(200);
      expect(res.body).toEqual({ created: 2, updated: 1, skipped: [], missing: [] });
      expect(res.text).not.toContain(SECRET);
      const list = (await api().get('/api/v1/variables').expect(200)).body as VariableDto[];
      expect(list.map((v) => [v.key, v.value, v.secret, v.description])).toEqual([
        ['bucket', 'data', false, 'raw data'], ['region', 'us', false, 'kept'], ['s3_key', '***', true, ''],
      ]);
      expect(clusterKey.decrypt(await storedValue('s3_key'))).toBe(SECRET);
    });

    it('writes nothing when one entry is bad, and names it', async () => {
      const badEntry = await api().post('/api/v1/variables/import').send({ variables: { ok: 'x', bad: { value: 1 } } }).expect(400);
      expect(badEntry.body).toEqual({
        reason: 'invalid_request', field: 'variables.bad',
        message: 'variables.bad: must be a string or an object { "value": string, "secret"?: boolean, "description"?: string }',
      });
      const badKey = await api().post('/api/v1/variables/import').send({ variables: { ok: 'x', 'no spaces': 'y' } }).expect(400);
      expect(badKey.body).toEqual({
        reason: 'invalid_request', field: 'variables.no spaces',
        message: 'variables.no spaces: the key must be 1 to 250 letters, digits, "_", "." or "-" (got "no spaces")',
      });
      const noVariables = await api().post('/api/v1/variables/import').send({ ok: 'x' }).expect(400);
      expect(noVariables.body).toEqual({
        reason: 'invalid_request', field: 'variables',
        message: 'variables: is required: an object of key → value or key → { value, secret?, description? }',
      });
      const notObject = await api().post('/api/v1/variables/import').send({ variables: ['x'] }).expect(400);
      expect(notObject.body.message).toBe('variables: must be an object of key → value or key → { value, secret?, description? }');
      expect(await repos.variables.list()).toEqual([]);
    });

    it('exports the plain variables only, lists the secrets left out, and a re-import leaves them untouched', async () => {
      await api().put('/api/v1/variables/region').send({ value: 'eu', description: 'where' }).expect(201);
      await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      const res = await api().get('/api/v1/variables/export').expect(200);
      const exported = res.body as VariablesExportDto;
      // Not even masked: `variables` holds exactly what was exported.
      expect(exported).toEqual({
        variables: { region: { value: 'eu', secret: false, description: 'where' } },
        secrets_omitted: ['s3_key'],
      });
      expect(res.text).not.toContain('***');
      const reimport = await api().post('/api/v1/variables/import').send({ ...exported, variables: { ...exported.variables, region: 'us' } }).expect(200);
      expect(reimport.body).toEqual({ created: 0, updated: 1, skipped: ['s3_key'], missing: [] });
      expect(clusterKey.decrypt(await storedValue('s3_key'))).toBe(SECRET);
    });

    it('leaves untouched a secret an older export listed masked', async () => {
      await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      const older = { variables: { region: { value: 'eu', secret: false, description: '' }, s3_key: { value: '***', secret: true, description: '' } }, secrets_omitted: ['s3_key'] };
      const res = await api().post('/api/v1/variables/import').send(older).expect(200);
      expect(res.body).toEqual({ created: 1, updated: 0, skipped: ['s3_key'], missing: [] });
      expect(clusterKey.decrypt(await storedValue('s3_key'))).toBe(SECRET);
    });

    it('names the left-out secrets that this server does not have (an import elsewhere)', async () => {
      await api().put('/api/v1/variables/s3_key').send({ value: SECRET, secret: true }).expect(201);
      const elsewhere = { variables: { region: { value: 'us', secret: false, description: '' } }, secrets_omitted: ['s3_key', 'api_token'] };
      const res = await api().post('/api/v1/variables/import').send(elsewhere).expect(200);
      expect(res.body).toEqual({ created: 1, updated: 0, skipped: ['s3_key', 'api_token'], missing: ['api_token'] });
    });
  });

  // Declared last: runs after every request above.
  describe('logs', () => {
    it('never receive a secret value', () => {
      expect(logger.lines.some((l) => l.includes('Mapped {/api/v1/variables/:key, PUT} route'))).toBe(true);
      expect(logger.lines.filter((l) => l.includes(SECRET) || l.includes('first') || l.includes('second'))).toEqual([]);
    });
  });
});
