import { isRole, type Role, type User } from '@swarmflow/core';
import type { Database, Queryable } from '../database';

const COLUMNS = `id, name, role, password_hash IS NOT NULL AS has_password, disabled, created_at, updated_at`;

function toUser(r: any): User {
  if (!isRole(r.role)) throw new Error(`app_user ${r.name} has an unknown role ${JSON.stringify(r.role)}`);
  return {
    id: Number(r.id), name: r.name, role: r.role, disabled: r.disabled, hasPassword: r.has_password === true,
    createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at),
  };
}

/**
 * Users of the API. Stores the password hash it is given (argon2id, made by the caller) and
 * hands it out only through {@link passwordHash}, for verification.
 */
export class UserRepository {
  constructor(private readonly db: Database) {}

  async get(name: string, q: Queryable = this.db): Promise<User | null> {
    const rows = await q.query(`SELECT ${COLUMNS} FROM app_user WHERE name = $1`, [name]);
    return rows.length ? toUser(rows[0]) : null;
  }

  async getById(id: number, q: Queryable = this.db): Promise<User | null> {
    const rows = await q.query(`SELECT ${COLUMNS} FROM app_user WHERE id = $1`, [id]);
    return rows.length ? toUser(rows[0]) : null;
  }

  /** Every user, by name. */
  async list(q: Queryable = this.db): Promise<User[]> {
    return (await q.query(`SELECT ${COLUMNS} FROM app_user ORDER BY name`)).map(toUser);
  }

  /** The user and its password hash (null when it has none), to verify a login. */
  async passwordHash(name: string, q: Queryable = this.db): Promise<{ user: User; hash: string | null } | null> {
    const rows = await q.query(`SELECT ${COLUMNS}, password_hash FROM app_user WHERE name = $1`, [name]);
    return rows.length ? { user: toUser(rows[0]), hash: rows[0].password_hash } : null;
  }

  /** Creates the user; null when the name is taken. */
  async create(user: { name: string; role: Role; passwordHash: string | null }, now: Date, q: Queryable = this.db): Promise<User | null> {
    const rows = await q.query(
      `INSERT INTO app_user (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [user.name, user.role, user.passwordHash, now],
    );
    return rows.length ? toUser(rows[0]) : null;
  }

  /** Changes the given fields; null when there is no such user. */
  async update(name: string, change: { role?: Role; passwordHash?: string | null; disabled?: boolean }, now: Date, q: Queryable = this.db): Promise<User | null> {
    const rows = await q.query(
      `UPDATE app_user SET role = COALESCE($2, role),
         password_hash = CASE WHEN $3 THEN $4 ELSE password_hash END,
         disabled = COALESCE($5, disabled), updated_at = $6
       WHERE name = $1 RETURNING ${COLUMNS}`,
      [name, change.role ?? null, change.passwordHash !== undefined, change.passwordHash ?? null, change.disabled ?? null, now],
    );
    return rows.length ? toUser(rows[0]) : null;
  }

  /** Deletes the user with its tokens and sessions; false when there was none. */
  async delete(name: string, q: Queryable = this.db): Promise<boolean> {
    return (await q.query(`DELETE FROM app_user WHERE name = $1 RETURNING id`, [name])).length > 0;
  }

  /** Enabled admins, for "is there anyone who can administer this server" and "do not remove the last one". */
  async countActiveAdmins(q: Queryable = this.db): Promise<number> {
    const [row] = await q.query(`SELECT count(*)::int AS n FROM app_user WHERE role = 'admin' AND NOT disabled`);
    return row.n;
  }

  /** Users of any kind. */
  async count(q: Queryable = this.db): Promise<number> {
    const [row] = await q.query(`SELECT count(*)::int AS n FROM app_user`);
    return row.n;
  }

  /** Locks the admin rows until the transaction `q` ends, so two demotions cannot both pass the last-admin check. */
  async lockAdmins(q: Queryable): Promise<void> {
    await q.query(`SELECT id FROM app_user WHERE role = 'admin' FOR UPDATE`);
  }
}
