import { Database } from '../database';
import { startEmbeddedServer } from '../test-support/embedded';
import { describeAuthRepositoryContract } from './auth-repositories.contract';

describeAuthRepositoryContract('the embedded database (PGlite)', async () => {
  const server = await startEmbeddedServer();
  const db = new Database({ url: server.url, poolSize: 1 });
  await db.migrate();
  return {
    db,
    close: async () => {
      await db.close();
      server.stop();
    },
  };
});
