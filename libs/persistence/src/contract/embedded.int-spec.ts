import { Database } from '../database';
import { startEmbeddedServer } from '../test-support/embedded';
import { describeMigrationContract } from './migrations.contract';
import { describeRepositoryContract } from './repositories.contract';

// The standalone database: PGlite in memory behind its socket server, with a pool of one
// as standalone mode uses it. It runs in a child process (see embedded-server.ts).
describeRepositoryContract('the embedded database (PGlite)', async () => {
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

describeMigrationContract('the embedded database (PGlite)', async () => {
  const server = await startEmbeddedServer();
  return { url: server.url, poolSize: 1, close: async () => server.stop() };
});
