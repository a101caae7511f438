import { Client } from 'pg';

/** First key of the schedulers' session advisory locks; the second is the slot. */
const SCHEDULER_LOCK_CLASS = 7_366_141;
const SLOTS = 64;

/**
 * Which schedulers are alive, told by PostgreSQL itself: each holds a session-level
 * advisory lock on a connection of its own for as long as it runs. A scheduler that dies
 * (even by SIGKILL) loses its connection, and with it the lock, at once. The outbox sweep
 * uses it to pick up a dead scheduler's messages in about a second: while another
 * scheduler is alive, young rows may be its own, just published, and only old rows are swept.
 */
export class SchedulerRegistry {
  private client: Client | null = null;
  private registering: Promise<Client | null> | null = null;

  constructor(private readonly url: string) {}

  /**
   * Live schedulers other than this one; null when it cannot tell (its own connection
   * is down, or every slot is taken). Registers (again, after a lost connection) first.
   */
  async others(): Promise<number | null> {
    const client = await this.registered();
    if (!client) return null;
    try {
      const rows = (await client.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [SCHEDULER_LOCK_CLASS],
      )).rows;
      return Math.max(0, rows[0].n - 1);
    } catch {
      this.drop(client);
      return null;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private registered(): Promise<Client | null> {
    if (this.client) return Promise.resolve(this.client);
    this.registering ??= this.register().finally(() => (this.registering = null));
    return this.registering;
  }

  private async register(): Promise<Client | null> {
    const client = new Client({ connectionString: this.url });
    client.on('error', () => this.drop(client));
    try {
      await client.connect();
      for (let slot = 0; slot < SLOTS; slot++) {
        const rows = (await client.query(`SELECT pg_try_advisory_lock($1, $2) AS ok`, [SCHEDULER_LOCK_CLASS, slot])).rows;
        if (rows[0].ok) {
          this.client = client;
          return client;
        }
      }
    } catch {
      // unknown for now; the next call tries again
    }
    await client.end().catch(() => undefined);
    return null;
  }

  private drop(client: Client): void {
    if (this.client === client) this.client = null;
    void client.end().catch(() => undefined);
  }
}
