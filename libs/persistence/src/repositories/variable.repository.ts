import type { Database, Queryable } from '../database';

/**
 * A variable as stored. For a secret (`isSecret`), `value` is the ciphertext the caller
 * wrote (a cluster-key token): this repository stores and returns values as given and
 * never encrypts, decrypts or logs them.
 */
export interface VariableRecord {
  key: string;
  value: string;
  isSecret: boolean;
  description: string;
  updatedAt: Date;
}

export type VariableWrite = Omit<VariableRecord, 'updatedAt'>;

const COLUMNS = `key, value, is_secret, description, updated_at`;

function toVariable(r: any): VariableRecord {
  return { key: r.key, value: r.value, isSecret: r.is_secret, description: r.description, updatedAt: new Date(r.updated_at) };
}

/** Variables (global key/value pairs), by key. */
export class VariableRepository {
  constructor(private readonly db: Database) {}

  /** The variable, or null; `forUpdate` locks its row until the transaction `q` ends. */
  async get(key: string, q: Queryable = this.db, options: { forUpdate?: boolean } = {}): Promise<VariableRecord | null> {
    const rows = await q.query(`SELECT ${COLUMNS} FROM variable WHERE key = $1${options.forUpdate ? ' FOR UPDATE' : ''}`, [key]);
    return rows.length ? toVariable(rows[0]) : null;
  }

  /** Every variable, by key. */
  async list(q: Queryable = this.db): Promise<VariableRecord[]> {
    return (await q.query(`SELECT ${COLUMNS} FROM variable ORDER BY key`)).map(toVariable);
  }

  /** The variables among `keys` that exist, by key (missing keys are simply absent). */
  async many(keys: readonly string[], q: Queryable = this.db): Promise<VariableRecord[]> {
    if (keys.length === 0) return [];
    return (await q.query(`SELECT ${COLUMNS} FROM variable WHERE key = ANY($1::text[]) ORDER BY key`, [[...new Set(keys)]])).map(toVariable);
  }

  /** Creates or replaces the variable; `created` is false when it existed. */
  async upsert(variable: VariableWrite, now: Date, q: Queryable = this.db): Promise<{ created: boolean }> {
    // xmax = 0 only on a freshly inserted row version: tells insert from update in one statement.
    const [row] = await q.query(
      `INSERT INTO variable (key, value, is_secret, description, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret,
         description = excluded.description, updated_at = excluded.updated_at
       RETURNING (xmax = 0) AS created`,
      [variable.key, variable.value, variable.isSecret, variable.description, now],
    );
    return { created: row.created === true };
  }

  /** Deletes the variable; false when there was none. */
  async delete(key: string, q: Queryable = this.db): Promise<boolean> {
    return (await q.query(`DELETE FROM variable WHERE key = $1 RETURNING key`, [key])).length > 0;
  }
}
