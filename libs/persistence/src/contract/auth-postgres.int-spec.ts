import { Database } from '../database';
import { createTestDatabase, describeWithPostgres } from '../test-support/postgres';
import { describeAuthRepositoryContract } from './auth-repositories.contract';

describeWithPostgres('PostgreSQL', () => {
  describeAuthRepositoryContract('PostgreSQL', async () => {
    const testDb = await createTestDatabase();
    const db = new Database({ url: testDb.url, poolSize: 2 });
    return { db, close: async () => { await db.close(); await testDb.drop(); } };
  });
});
