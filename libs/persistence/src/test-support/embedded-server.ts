// Runs the embedded database in its own process and prints its URL: jest's module sandbox
// cannot load PGlite (it imports its WASM with a dynamic import()).
import { EmbeddedPostgres } from '../embedded-postgres';

const embedded = new EmbeddedPostgres(process.argv[2] ?? 'memory://');
embedded.start().then(
  (url) => process.stdout.write(`${url}\n`),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => void embedded.stop().then(() => process.exit(0)));
