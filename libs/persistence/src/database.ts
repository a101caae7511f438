import 'reflect-metadata';
import { type Pool, type PoolClient, type QueryConfig, type QueryResult } from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities/entities';
import { MIGRATIONS } from './migrations';

/** Where the metadata database is: a PostgreSQL URL (distributed) or the embedded PGlite server's URL (standalone). */
export interface DatabaseConfig {
  url: string;
  /** Connections in the pool. The embedded database must use 1 (it multiplexes clients onto one session). */
  poolSize?: number;
  /** Log every SQL statement. */
  logging?: boolean;
  /** The migrations `migrate` knows (default: all). Tests give the older ones, to build a database as an earlier version left it. */
  migrations?: readonly (typeof MIGRATIONS)[number][];
}

/**
 * What repositories run SQL on: the database or an open transaction. Always returns the
 * rows (TypeORM's own `query` returns `[rows, count]` for UPDATE/DELETE on Postgres).
 */
export interface Queryable {
  /**
   * @param prepare a name: the statement is parsed and planned once per connection and
   *   then only bound and executed (for hot, fixed statements such as the scheduler's write).
   */
  query<T = any>(sql: string, params?: unknown[], prepare?: string): Promise<T[]>;
  /** Several parameterless statements in one round trip; the rows of each. Never with user input. */
  queryMany(sql: string): Promise<any[][]>;
  /**
   * In a transaction only: runs `sql` (prepared once per connection as `name`) and COMMIT
   * in one round trip, and returns its rows. If the statement fails, the COMMIT is not run
   * and the transaction rolls back. A statement run on `tx` afterwards commits on its own.
   */
  queryAndCommit?<T = any>(sql: string, params: unknown[], name: string): Promise<T[]>;
}

function statement(text: string, values: unknown[] | undefined, name: string | undefined): QueryConfig {
  return name ? { name, text, values } : { text, values };
}

function rowsOfEach(result: QueryResult | QueryResult[]): any[][] {
  return (Array.isArray(result) ? result : [result]).map((r) => r.rows ?? []);
}


/**
 * The metadata database: a TypeORM data source with the project's entities and
 * migrations. Never uses `synchronize`: the schema comes from migrations only.
 */
export class Database implements Queryable {
  readonly dataSource: DataSource;
  /** SQL-level prepared statements (see `queryAndCommit`) by pooled connection. */
  private readonly preparedOn = new WeakMap<PoolClient, Set<string>>();

  constructor(readonly config: DatabaseConfig) {
    this.dataSource = new DataSource({
      type: 'postgres',
      url: config.url,
      entities: ENTITIES,
      migrations: [...(config.migrations ?? MIGRATIONS)],
      migrationsTableName: 'swarmflow_migrations',
      synchronize: false,
      logging: config.logging ?? false,
      extra: { max: config.poolSize ?? 10 },
    });
  }

  private connecting: Promise<unknown> | null = null;

  /** Connects once; every query connects on first use, so calling this is optional. */
  async connect(): Promise<void> {
    if (this.dataSource.isInitialized) return;
    this.connecting ??= this.dataSource.initialize().finally(() => (this.connecting = null));
    await this.connecting;
  }

  /** Applies pending migrations; returns their names. */
  async migrate(): Promise<string[]> {
    await this.connect();
    const applied = await this.dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  }

  /** Names of migrations not applied yet. */
  async pendingMigrations(): Promise<boolean> {
    await this.connect();
    return this.dataSource.showMigrations();
  }

  // Queries go to TypeORM's own pg pool directly: its QueryRunner costs 0.3–1.3 ms a
  // statement here against 0.05 ms for the bare driver, and the scheduler's hot path is SQL.
  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  async query<T = any>(sql: string, params?: unknown[], prepare?: string): Promise<T[]> {
    await this.connect();
    return (await this.pool.query(statement(sql, params, prepare))).rows as T[];
  }

  async queryMany(sql: string): Promise<any[][]> {
    await this.connect();
    return rowsOfEach((await this.pool.query(sql)) as unknown as QueryResult | QueryResult[]);
  }

  /**
   * Runs `work` in one transaction (READ COMMITTED); rolls back if it throws.
   * @param prelude parameterless SQL run with BEGIN in the same round trip (e.g. taking an
   *   advisory lock, reading rows by numeric ids); must not contain user input. `work`
   *   receives the rows of each of its statements, in order.
   */
  async transaction<T>(work: (tx: Queryable, prelude: any[][]) => Promise<T>, prelude?: string): Promise<T> {
    await this.connect();
    const client: PoolClient = await this.pool.connect();
    let broken = false;
    // A checked-out client has no 'error' listener of the pool's: without this one, the
    // database going away mid-transaction would be an uncaught 'error' event (a crash).
    const lost = (): void => {
      broken = true;
    };
    client.on('error', lost);
    try {
      const begun = (await client.query(prelude ? `BEGIN; ${prelude}` : 'BEGIN')) as unknown as QueryResult | QueryResult[];
      const preludeRows = rowsOfEach(begun).slice(1); // without BEGIN's
      let committed = false;
      const tx: Queryable = {
        query: async (sql, params, prepare) => (await client.query(statement(sql, params, prepare))).rows,
        queryMany: async (sql) => rowsOfEach((await client.query(sql)) as unknown as QueryResult | QueryResult[]),
        queryAndCommit: async (sql, params, name) => {
          await this.prepare(client, name, sql);
          const [rows] = rowsOfEach((await client.query(`${execute(name, params)}; COMMIT`)) as unknown as QueryResult | QueryResult[]);
          committed = true;
          return rows;
        },
      };
      const result = await work(tx, preludeRows);
      if (!committed) await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: do not return it to the pool
      }
      throw err;
    } finally {
      client.removeListener('error', lost);
      client.release(broken);
    }
  }

  /**
   * A whole transaction in one round trip: BEGIN, the `prelude` statements (parameterless,
   * never with user input: an advisory lock, row locks by numeric id), the prepared
   * statement `name` run with `params`, COMMIT. Returns that statement's rows. If any
   * statement fails, the rest is skipped and the transaction rolls back.
   */
  async transactOnce(prelude: string[], sql: string, params: unknown[], name: string): Promise<any[]> {
    await this.connect();
    const client: PoolClient = await this.pool.connect();
    let broken = false;
    // A checked-out client has no 'error' listener of the pool's: without this one, the
    // database going away mid-transaction would be an uncaught 'error' event (a crash).
    const lost = (): void => {
      broken = true;
    };
    client.on('error', lost);
    try {
      await this.prepare(client, name, sql);
      const results = rowsOfEach((await client.query(
        ['BEGIN', ...prelude, execute(name, params), 'COMMIT'].join('; '),
      )) as unknown as QueryResult | QueryResult[]);
      return results[1 + prelude.length];
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.removeListener('error', lost);
      client.release(broken);
    }
  }

  /**
   * SQL-level PREPARE, once per connection and on its own (a prepared statement outlives a
   * rolled-back transaction): a simple query can then carry EXECUTE with other statements,
   * which the extended protocol that `$n` parameters use cannot.
   */
  private async prepare(client: PoolClient, name: string, sql: string): Promise<void> {
    let prepared = this.preparedOn.get(client);
    if (!prepared) this.preparedOn.set(client, (prepared = new Set()));
    if (prepared.has(name)) return;
    // PGlite serves every connection in one session: another (or an earlier, since
    // replaced) pooled connection may have prepared it already (same name, same text).
    // Asked, not tried: a failed PREPARE would abort the caller's transaction.
    const [exists] = (await client.query(`SELECT 1 FROM pg_prepared_statements WHERE name = $1`, [name])).rows;
    if (!exists) await client.query(`PREPARE ${name} AS ${sql}`);
    prepared.add(name);
  }

  /**
   * Resolves when the database answers a trivial query within `timeoutMs`; rejects otherwise
   * (see `databaseUnavailableCause` for telling an unreachable database from other failures).
   */
  async ping(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`the database did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    });
    try {
      await Promise.race([this.query('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

function execute(name: string, params: unknown[]): string {
  return `EXECUTE ${name}(${params.map(sqlLiteral).join(', ')})`;
}

/**
 * A value as a SQL literal, as node-postgres would send it as a text parameter: arrays
 * in Postgres' array syntax, dates in ISO 8601, text quoted by {@link quoteLiteral}.
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`not a SQL number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return quoteLiteral(textOf(value));
}

const QUOTE_OR_BACKSLASH = /['\\]/;
const BACKSLASH_OR_DOUBLE_QUOTE = /[\\"]/;
/** The tag of a dollar-quoted literal, without its closing `$`. */
const DOLLAR_TAG = '$sf';

/**
 * The literal of `text`. Without a quote or backslash: `'…'` as is. Otherwise, a
 * dollar-quoted `$sf$…$sf$`, which PostgreSQL reads with no escape processing, so the text
 * is copied once instead of rewritten (a task message is JSON inside JSON: backslashes at
 * every level). Safe only when the text does not contain `$sf`: then no `$sf$` can start
 * inside it, nor straddle its end and the closing tag, so the literal ends exactly at the
 * closing tag (a text ending in `$` is fine: the lexer gives back the `$` it took with it,
 * see PostgreSQL's scan.l). A text that contains `$sf` gets `escapeLiteral`'s output
 * (`'…'` with quotes doubled; ` E'…'` with backslashes doubled when there are any).
 */
function quoteLiteral(text: string): string {
  if (!QUOTE_OR_BACKSLASH.test(text)) return `'${text}'`;
  if (!text.includes(DOLLAR_TAG)) return ` ${DOLLAR_TAG}$${text}${DOLLAR_TAG}$`;
  const quoted = `'${text.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`;
  return text.includes('\\') ? ` E${quoted}` : quoted;
}

function textOf(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.map(arrayElement).join(',')}}`;
  if (typeof value === 'string') return value;
  throw new TypeError(`no SQL literal for a ${typeof value}`);
}

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  const text = textOf(value);
  return BACKSLASH_OR_DOUBLE_QUOTE.test(text) ? `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : `"${text}"`;
}
