import type { INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClusterKey } from '@swarmflow/secrets';
import { createWebserver } from '../webserver';
import { seedDags, TRAIN_DAG } from './seed';
import { createTestToken } from './auth';

/**
 * A webserver over a fresh database with one DAG and one run, for tests that throw
 * requests at every route; `headers` go on each request (an Authorization header once
 * the API requires a caller: give it here).
 */
export interface FuzzTarget {
  app: INestApplication;
  headers: Record<string, string>;
  dagId: string;
  runId: string;
  taskId: string;
  close(): Promise<void>;
}

export async function createFuzzTarget(): Promise<FuzzTarget> {
  const testDb: TestDatabase = await createTestDatabase();
  const db = new Database({ url: testDb.url, poolSize: 4 });
  await db.connect();
  const repos = new Repositories(db);
  const now = new Date('2025-03-01T12:00:00.000Z');
  await seedDags(repos, [TRAIN_DAG], now);
  const app = await createWebserver({ repos, logger: false, clock: () => now, clusterKey: ClusterKey.generate() });
  const { default: request } = await import('supertest');
  const headers = { Authorization: `Bearer ${await createTestToken(repos, 'admin')}` };
  const triggered = await request(app.getHttpServer()).post(`/api/v1/dags/${TRAIN_DAG.id}/runs`).set(headers).send({ runId: 'fuzz_run' });
  if (triggered.status !== 201) throw new Error(`seeding a run failed: ${triggered.status} ${JSON.stringify(triggered.body)}`);
  return {
    app, headers, dagId: TRAIN_DAG.id, runId: 'fuzz_run', taskId: 'extract',
    async close() {
      await app.close();
      await db.close();
      await testDb.drop();
    },
  };
}
