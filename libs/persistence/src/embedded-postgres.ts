import { mkdirSync } from 'node:fs';

/**
 * The standalone mode's database: PGlite (Postgres compiled to WASM) served on a
 * loopback socket so the ordinary `pg` driver — and so the same SQL — works on it.
 * PGlite has one session: callers must use a pool of one connection.
 */
export class EmbeddedPostgres {
  private server: { stop(): Promise<void> } | null = null;
  private db: { close(): Promise<void> } | null = null;
  url = '';

  /** @param dataDir folder holding the database files; `memory://` keeps it in memory. */
  constructor(private readonly dataDir: string) {}

  async start(): Promise<string> {
    // Both packages are ESM-only; a dynamic import keeps this CommonJS build loading them.
    const { PGlite } = await dynamicImport('@electric-sql/pglite');
    const { PGLiteSocketServer } = await dynamicImport('@electric-sql/pglite-socket');
    if (!this.dataDir.startsWith('memory://')) mkdirSync(this.dataDir, { recursive: true });
    const db = await PGlite.create(this.dataDir);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
    await server.start();
    this.db = db;
    this.server = server;
    const address = (server as any).server?.address?.();
    const port = typeof address === 'object' && address ? address.port : Number(String(server.getServerConn()).split(':').pop());
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

// TypeScript compiles `import()` to `require()` under CommonJS; this keeps a real import().
const dynamicImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<any>;
