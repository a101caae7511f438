import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClusterKey } from '@swarmflow/secrets';
import { createWebserver } from '../../webserver/src/webserver';
import { createTestToken } from '../../webserver/src/test-support/auth';
import type { CliDeps } from './cli-context';
import { readIfExists } from './config';
import { runCli } from './program';

describeWithPostgres('swarmflow variables against the REST API', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let url: string;
  let token: string;
  let dir: string;
  const clusterKey = ClusterKey.generate();
  const SECRET = 'AKIA-very-s3cr3t';
  const now = new Date('2025-03-01T12:00:00.000Z');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 4 });
    await db.connect();
    repos = new Repositories(db);
    app = await createWebserver({ repos, logger: false, clock: () => now, clusterKey });
    await app.listen(0, '127.0.0.1');
    token = await createTestToken(repos, 'admin');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-vars-'));
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one command in-process, with `stdin` as what a pipe would give it. */
  async function cli(args: string[], stdin = '') {
    let out = '';
    let err = '';
    const deps: CliDeps = {
      stdout: (s) => { out += s; },
      stderr: (s) => { err += s; },
      env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
      sleep: async () => undefined,
      now: () => now,
      readFile: readIfExists,
      readStdin: async () => stdin,
    };
    const code = await runCli(args, deps);
    return { code, out, err };
  }

  it('sets, gets, lists and deletes a plain variable', async () => {
    expect(await cli(['variables', 'set', 'region', 'eu', '--description', 'default region'])).toEqual({ code: 0, out: 'created variable region\n', err: '' });
    expect(await cli(['variables', 'set', 'region', 'us'])).toEqual({ code: 0, out: 'updated variable region\n', err: '' });
    expect(await cli(['variables', 'get', 'region'])).toEqual({ code: 0, out: 'us\n', err: '' });
    const list = await cli(['variables', 'list']);
    expect(list.out.split('\n')).toEqual([
      'KEY     VALUE  SECRET  DESCRIPTION     UPDATED',
      'region  us     no      default region  2025-03-01 12:00:00',
      '',
    ]);
    expect(await cli(['variables', 'delete', 'region'])).toEqual({ code: 0, out: 'deleted variable region\n', err: '' });
    // A missing key exits 1, a secret 2: a script can tell them apart.
    expect(await cli(['variables', 'get', 'region'])).toEqual({
      code: 1, out: '', err: 'variable "region" does not exist. List the variables with `swarmflow variables list`.\n',
    });
    expect(await cli(['variables', 'get', ''])).toEqual({
      code: 2, out: '', err: 'the variable key is empty. Fix: give the key, e.g. swarmflow variables get region\n',
    });
    expect((await cli(['variables', 'list'])).out).toBe('No variables. Set one with `swarmflow variables set <key> <value>`.\n');
  });

  it('reads a secret from stdin, stores it encrypted and only ever prints ***', async () => {
    const set = await cli(['variables', 'set', 's3_key', '-', '--secret'], `${SECRET}\n`);
    expect(set).toEqual({ code: 0, out: 'created variable s3_key (secret: stored encrypted, shown as ***)\n', err: '' });
    const [row] = await db.query(`SELECT value, is_secret FROM variable WHERE key = 's3_key'`);
    expect(row.is_secret).toBe(true);
    expect(row.value).not.toContain(SECRET);
    expect(clusterKey.decrypt(row.value)).toBe(SECRET);

    const outputs = [
      await cli(['variables', 'get', 's3_key']),
      await cli(['variables', 'get', 's3_key', '--json']),
      await cli(['variables', 'list']),
      await cli(['variables', 'list', '--json']),
      await cli(['variables', 'export']),
    ];
    for (const o of outputs) expect(o.out + o.err).not.toContain(SECRET);
    expect(outputs[0]).toEqual({ code: 2, out: '', err: expect.stringMatching(/^s3_key is a secret variable: its value is never shown by the API or the CLI, so nothing was printed\. /) });
    expect(JSON.parse(outputs[1].out)).toEqual({ key: 's3_key', secret: true, description: '', updatedAt: now.toISOString() });
    expect(outputs[2].out).toMatch(/^s3_key\s+\*\*\*\s+yes\s+-/m);
    expect(JSON.parse(outputs[3].out)).toEqual([expect.objectContaining({ key: 's3_key', value: '***', secret: true })]);
    await cli(['variables', 'delete', 's3_key']);
  });

  it('exports to a file and imports it back without touching the secrets', async () => {
    await cli(['variables', 'set', 'bucket', 'raw-data']);
    await cli(['variables', 'set', 'token', '-', '--secret'], SECRET);
    const file = path.join(dir, 'vars.json');
    const why = '(secret values are never shown, so no export carries them: after an import, set each with `swarmflow variables set <key> - --secret`)\n';
    expect(await cli(['variables', 'export', file])).toEqual({
      code: 0, err: '',
      out: `exported 1 variable to ${file}; left out 1 secret: token\n${why}`,
    });
    const exported = JSON.parse(readFileSync(file, 'utf8'));
    expect(exported).toEqual({
      variables: { bucket: { value: 'raw-data', secret: false, description: '' } },
      secrets_omitted: ['token'],
    });
    const stdout = await cli(['variables', 'export']);
    expect(JSON.parse(stdout.out)).toEqual(exported);
    expect(stdout.err).toBe(`exported 1 variable; left out 1 secret: token\n${why}`);

    exported.variables.bucket.value = 'cooked-data';
    writeFileSync(file, JSON.stringify(exported));
    expect(await cli(['variables', 'import', file])).toEqual({
      code: 0, err: '',
      out: `imported 1 variable from ${file}: 0 created, 1 updated\nleft 1 secret untouched (an export never carries secret values): token\n`,
    });
    expect((await cli(['variables', 'get', 'bucket'])).out).toBe('cooked-data\n');
    expect(clusterKey.decrypt((await repos.variables.get('token'))!.value)).toBe(SECRET);

    // Into a server without the secret: the CLI says it is not set there, and how to set it.
    await cli(['variables', 'delete', 'token']);
    expect(await cli(['variables', 'import', file])).toEqual({
      code: 0, err: '',
      out: `imported 1 variable from ${file}: 0 created, 1 updated\n` +
        '1 secret of the file is not set here (an export never carries secret values): token. Tasks that mount it fail until set: swarmflow variables set <key> - --secret < file\n',
    });
  });

  it('imports a flat key → value file, and names a bad file or entry', async () => {
    const flat = path.join(dir, 'flat.json');
    writeFileSync(flat, JSON.stringify({ a: '1', b: { value: '2', description: 'two' } }));
    expect(await cli(['variables', 'import', flat])).toEqual({ code: 0, err: '', out: `imported 2 variables from ${flat}: 2 created, 0 updated\n` });
    expect(await cli(['variables', 'import', path.join(dir, 'none.json')])).toEqual({ code: 2, out: '', err: `${path.join(dir, 'none.json')} does not exist\n` });
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{"a": ');
    const parsed = await cli(['variables', 'import', broken]);
    expect(parsed.code).toBe(2);
    expect(parsed.err).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(`));
    writeFileSync(broken, JSON.stringify({ c: 3 }));
    expect(await cli(['variables', 'import', broken])).toEqual({
      code: 2, out: '', err: 'variables.c: must be a string or an object { "value": string, "secret"?: boolean, "description"?: string }\n',
    });
    expect(await repos.variables.get('c')).toBeNull();
  });

  it('rejects a bad key with the API\'s message and exit code 2', async () => {
    expect(await cli(['variables', 'set', 'no spaces', 'x'])).toEqual({
      code: 2, out: '', err: 'key: must be 1 to 250 letters, digits, "_", "." or "-" (got "no spaces")\n',
    });
  });
});
