import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Database } from '../database';
import { MIGRATIONS } from '../migrations';

/** The server the integration tests use (SWARMFLOW_TEST_DATABASE_URL, default the local trust-auth Postgres). */
export function postgresAdminUrl(): string {
  return process.env.SWARMFLOW_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

let reachable: boolean | undefined;

/** Synchronous probe (jest's `describe` cannot wait), cached per process. */
export function postgresAvailable(): boolean {
  if (reachable === undefined) {
    const { hostname, port } = new URL(postgresAdminUrl());
    const probe = `require('net').connect({host:${JSON.stringify(hostname)},port:${Number(port || 5432)}})` +
      `.on('connect',()=>process.exit(0)).on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000)`;
    reachable = spawnSync(process.execPath, ['-e', probe]).status === 0;
  }
  return reachable;
}

/**
 * `describe` that needs PostgreSQL: skipped with a message when it is not reachable,
 * except under CI=true where a missing database fails the suite.
 */
export function describeWithPostgres(name: string, fn: () => void): void {
  if (postgresAvailable()) return describe(name, fn);
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(`PostgreSQL is required under CI=true but ${postgresAdminUrl()} is not reachable`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`skipping "${name}": PostgreSQL is not reachable at ${postgresAdminUrl()}`);
  describe.skip(name, fn);
}

function urlFor(database: string): string {
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One template per schema version: tests clone it instead of migrating each time. */
async function ensureTemplate(): Promise<string> {
  const schema = createHash('sha1').update(MIGRATIONS.map((m) => m.name).join(',')).digest('hex').slice(0, 12);
  const name = `swarmflow_tpl_${schema}`;
  await admin(async (c) => {
    // Serialise template creation between parallel test files.
    await c.query(`SELECT pg_advisory_lock(424242)`);
    try {
      const exists = await c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
      if (exists.rowCount === 0) {
        await c.query(`CREATE DATABASE ${name}`);
        const db = new Database({ url: urlFor(name), poolSize: 1 });
        try {
          await db.migrate();
        } finally {
          await db.close();
        }
      }
    } finally {
      await c.query(`SELECT pg_advisory_unlock(424242)`);
    }
  });
  return name;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test file: migrated (cloned from the template), or with
 * `migrated: false` empty, for tests that migrate it themselves.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const template = options.migrated === false ? 'template0' : await ensureTemplate();
  const name = `swarmflow_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return {
    name,
    url: urlFor(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
