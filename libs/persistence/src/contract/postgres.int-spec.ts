import { Database } from '../database';
import { createTestDatabase, describeWithPostgres } from '../test-support/postgres';
import { describeMigrationContract } from './migrations.contract';
import { describeRepositoryContract } from './repositories.contract';

describeWithPostgres('PostgreSQL', () => {
  describeRepositoryContract('PostgreSQL', async () => {
    const testDb = await createTestDatabase();
    const db = new Database({ url: testDb.url, poolSize: 2 });
    return { db, close: async () => { await db.close(); await testDb.drop(); } };
  });

  describeMigrationContract('PostgreSQL', async () => {
    const testDb = await createTestDatabase({ migrated: false });
    return { url: testDb.url, poolSize: 2, close: () => testDb.drop() };
  });
});
