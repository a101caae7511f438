import { createTestDatabase, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { Stack, type StackOptions } from './stack';

/**
 * A {@link Stack} on a fresh test database for the enclosing `describe`: started in its
 * `beforeAll`, stopped (and the database dropped) in its `afterAll`. Returns the stack's getter.
 */
export function useStack(options: Omit<StackOptions, 'databaseUrl'>): () => Stack {
  let testDb: TestDatabase | undefined;
  let stack: Stack | undefined;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    stack = await new Stack({ ...options, databaseUrl: testDb.url }).start();
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await testDb?.drop();
  });
  return () => {
    if (!stack) throw new Error('the test stack did not start (see the beforeAll error above)');
    return stack;
  };
}
