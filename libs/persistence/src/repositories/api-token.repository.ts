import { isRole, type ApiTokenInfo, type Role } from '@swarmflow/core';
import type { Database, Queryable } from '../database';

const COLUMNS = `t.id, t.name, u.name AS user_name, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at`;

const date = (v: unknown): Date | null => (v == null ? null : new Date(v as string));

function toToken(r: any): ApiTokenInfo {
  return {
    id: Number(r.id), name: r.name, userName: r.user_name, prefix: r.prefix, createdAt: new Date(r.created_at),
    expiresAt: date(r.expires_at), lastUsedAt: date(r.last_used_at), revokedAt: date(r.revoked_at),
  };
}

/** A token found by its hash, with what deciding whether it may be used needs. */
export interface TokenLookup {
  token: ApiTokenInfo;
  user: { id: number; name: string; role: Role; disabled: boolean };
}

/** API tokens, stored only as the SHA-256 of the secret (made by the caller). */
export class ApiTokenRepository {
  constructor(private readonly db: Database) {}

  async create(token: { name: string; userId: number; hash: string; prefix: string; expiresAt: Date | null }, now: Date, q: Queryable = this.db): Promise<ApiTokenInfo> {
    const [row] = await q.query(
      `WITH t AS (INSERT INTO api_token (name, user_id, token_hash, prefix, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)
       SELECT ${COLUMNS} FROM t JOIN app_user u ON u.id = t.user_id`,
      [token.name, token.userId, token.hash, token.prefix, now, token.expiresAt],
    );
    return toToken(row);
  }

  /** The token whose hash is `hash`, whatever its state (the caller decides), or null. */
  async findByHash(hash: string, q: Queryable = this.db): Promise<TokenLookup | null> {
    const rows = await q.query(
      `SELECT ${COLUMNS}, u.id AS user_id, u.role, u.disabled FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.token_hash = $1`,
      [hash], 'api_token_by_hash',
    );
    if (!rows.length) return null;
    const r = rows[0];
    if (!isRole(r.role)) return null;
    return { token: toToken(r), user: { id: Number(r.user_id), name: r.user_name, role: r.role, disabled: r.disabled } };
  }

  /** Records a use, at most once per `granularityMs` per token (a read-mostly API should not write on every call). */
  async touch(id: number, now: Date, granularityMs: number, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE api_token SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`,
      [id, now, new Date(now.getTime() - granularityMs)],
    );
  }

  async get(id: number, q: Queryable = this.db): Promise<ApiTokenInfo | null> {
    const rows = await q.query(`SELECT ${COLUMNS} FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.id = $1`, [id]);
    return rows.length ? toToken(rows[0]) : null;
  }

  /** Tokens, newest first; of one user when `userName` is given. */
  async list(filter: { userName?: string } = {}, q: Queryable = this.db): Promise<ApiTokenInfo[]> {
    const rows = await q.query(
      `SELECT ${COLUMNS} FROM api_token t JOIN app_user u ON u.id = t.user_id
       WHERE ($1::text IS NULL OR u.name = $1) ORDER BY t.created_at DESC, t.id DESC`,
      [filter.userName ?? null],
    );
    return rows.map(toToken);
  }

  /** Revokes the token; null when there is none, the token as it is when it was revoked already. */
  async revoke(id: number, now: Date, q: Queryable = this.db): Promise<ApiTokenInfo | null> {
    await q.query(`UPDATE api_token SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, now]);
    return this.get(id, q);
  }

  /** Tokens that can still be used (not revoked, not expired, user enabled). */
  async countUsable(now: Date, q: Queryable = this.db): Promise<number> {
    const [row] = await q.query(
      `SELECT count(*)::int AS n FROM api_token t JOIN app_user u ON u.id = t.user_id
       WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $1) AND NOT u.disabled`,
      [now],
    );
    return row.n;
  }
}
