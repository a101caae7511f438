import { isRole, type Role } from '@swarmflow/core';
import type { Database, Queryable } from '../database';

/** A browser session found by the hash of its cookie. */
export interface SessionLookup {
  idHash: string;
  csrfToken: string;
  expiresAt: Date;
  user: { id: number; name: string; role: Role; disabled: boolean };
}

/** Browser sessions (server-side, so that logout and a password reset end them). Ids stored as SHA-256 only. */
export class SessionRepository {
  constructor(private readonly db: Database) {}

  async create(session: { idHash: string; userId: number; csrfToken: string; expiresAt: Date }, now: Date, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO user_session (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
      [session.idHash, session.userId, session.csrfToken, now, session.expiresAt],
    );
  }

  /** The session, unexpired at `now`, or null. */
  async find(idHash: string, now: Date, q: Queryable = this.db): Promise<SessionLookup | null> {
    const rows = await q.query(
      `SELECT s.id_hash, s.csrf_token, s.expires_at, u.id AS user_id, u.name, u.role, u.disabled
       FROM user_session s JOIN app_user u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2`,
      [idHash, now], 'user_session_by_hash',
    );
    if (!rows.length || !isRole(rows[0].role)) return null;
    const r = rows[0];
    return { idHash: r.id_hash, csrfToken: r.csrf_token, expiresAt: new Date(r.expires_at), user: { id: Number(r.user_id), name: r.name, role: r.role, disabled: r.disabled } };
  }

  async delete(idHash: string, q: Queryable = this.db): Promise<void> {
    await q.query(`DELETE FROM user_session WHERE id_hash = $1`, [idHash]);
  }

  /** Ends every session of a user (password reset, role change, disable). */
  async deleteForUser(userId: number, q: Queryable = this.db): Promise<void> {
    await q.query(`DELETE FROM user_session WHERE user_id = $1`, [userId]);
  }

  /** Drops sessions expired before `now`; how many. */
  async deleteExpired(now: Date, q: Queryable = this.db): Promise<number> {
    return (await q.query(`DELETE FROM user_session WHERE expires_at <= $1 RETURNING id_hash`, [now])).length;
  }
}
