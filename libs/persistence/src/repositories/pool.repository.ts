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

  async upsert(pool: Pool): Promise<void> {
    await this.db.query(
      `INSERT INTO pool (name, slots, description) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET slots = $2, description = $3`, [pool.name, pool.slots, pool.description],
    );
  }
}
