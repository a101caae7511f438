import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { privateDir } from './private-dir';

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The standalone mode's database: PGlite (Postgres compiled to WASM) served on a Unix
 * socket so the ordinary `pg` driver — and so the same SQL — works on it. PGlite has one
 * session: callers must use a pool of one connection.
 *
 * Only the user running Swarmflow can reach it: the socket (PGlite takes no password)
 * sits in a 0700 folder, not on a TCP port, and the database folder is 0700 with its
 * files 0600 (PGlite creates them as the umask says, 0666 under umask 0).
 */
export class EmbeddedPostgres {
  private server: PGLiteSocketServer | null = null;
  private db: PGlite | null = null;
  /** A socket folder this instance made in the temporary folder (memory:// databases), removed at stop. */
  private ownSocketDir: string | null = null;
  url = '';
  /** The socket's path, once started. */
  socketPath = '';

  /**
   * @param dataDir folder holding the database files; `memory://` keeps it in memory.
   * @param socketDir folder of the socket (made 0700); default: `socket` beside `dataDir`,
   *   or a new private temporary folder for `memory://`.
   */
  constructor(private readonly dataDir: string, private readonly socketDir?: string) {}

  async start(): Promise<string> {
    const inMemory = this.dataDir.startsWith('memory://');
    if (!inMemory) privateDir(this.dataDir);
    let socketDir = this.socketDir;
    if (socketDir === undefined && inMemory) socketDir = this.ownSocketDir = mkdtempSync(path.join(tmpdir(), 'swarmflow-db-'));
    socketDir = path.resolve(socketDir ?? path.join(path.dirname(path.resolve(this.dataDir)), 'socket'));
    privateDir(socketDir);
    // pg finds the socket as <host>/.s.PGSQL.<port>.
    const socketPath = path.join(socketDir, '.s.PGSQL.5432');
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new Error(`the embedded database's socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes, ` +
        'the most a Unix socket takes. Fix: choose a shorter SWARMFLOW_HOME (or --home)');
    }
    rmSync(socketPath, { force: true });
    const db = await PGlite.create(this.dataDir);
    if (!inMemory) privateFiles(this.dataDir);
    const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 4 });
    await server.start();
    chmodSync(socketPath, 0o600);
    this.db = db;
    this.server = server;
    this.socketPath = socketPath;
    this.url = `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    if (this.server && !this.dataDir.startsWith('memory://')) privateFiles(this.dataDir);
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    if (this.ownSocketDir) rmSync(this.ownSocketDir, { recursive: true, force: true });
    this.server = null;
    this.db = null;
  }
}

/** Sets every folder under `dir` to 0700 and every file to 0600. */
function privateFiles(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      chmodSync(full, 0o700);
      privateFiles(full);
    } else if (entry.isFile() && (statSync(full).mode & 0o077) !== 0) {
      chmodSync(full, 0o600);
    }
  }
}
