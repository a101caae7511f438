import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The standalone mode's database: PGlite (Postgres compiled to WASM) served on a
 * loopback socket so the ordinary `pg` driver — and so the same SQL — works on it.
 * PGlite has one session: callers must use a pool of one connection.
 */
export class EmbeddedPostgres {
  private server: PGLiteSocketServer | null = null;
  private db: PGlite | null = null;
  url = '';

  /** @param dataDir folder holding the database files; `memory://` keeps it in memory. */
  constructor(private readonly dataDir: string) {}

  async start(): Promise<string> {
    if (!this.dataDir.startsWith('memory://')) mkdirSync(this.dataDir, { recursive: true });
    const db = await PGlite.create(this.dataDir);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
    await server.start();
    this.db = db;
    this.server = server;
    // Asked for port 0: the server reports the one it got as "host:port".
    const port = Number(server.getServerConn().split(':').pop());
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    this.server = null;
    this.db = null;
  }
}
