import type { Database, Queryable } from '../database';

export interface Pool {
  name: string;
  slots: number;
  description: string;
}

export class PoolRepository {
  constructor(private readonly db: Database) {}

  async list(q: Queryable = this.db): Promise<Pool[]> {
    return q.query(`SELECT name, slots, description FROM pool ORDER BY name`);
  }

  async get(name: string): Promise<Pool | null> {
    const rows = await this.db.query(`SELECT name, slots, description FROM pool WHERE name = $1`, [name]);
    return rows[0] ?? null;
  }

  /** Creates or resizes a pool; true when it is new. */
  async upsert(pool: Pool): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO pool (name, slots, description) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET slots = $2, description = $3 RETURNING (xmax = 0) AS created`, [pool.name, pool.slots, pool.description],
    );
    return rows[0].created === true;
  }

  /** Deletes a pool; false when there was none. */
  async delete(name: string): Promise<boolean> {
    return (await this.db.query(`DELETE FROM pool WHERE name = $1 RETURNING name`, [name])).length > 0;
  }
}
