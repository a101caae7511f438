import {
  isRole, parseDuration, passwordProblem, roleAllows, userNameProblem, ROLES,
  type ApiTokenInfo, type Caller, type Role, type User,
} from '@swarmflow/core';
import type { Queryable, Repositories } from '@swarmflow/persistence';
import { RequestValidationError } from '../http/zod-validation.pipe';
import { ConflictError, NotFoundError } from '../services/api-errors';
import { hashPassword, looksLikeApiToken, newApiToken, sha256, verifyPassword } from './credentials';

/** A token's last-used time is written at most this often. */
export const TOKEN_TOUCH_GRANULARITY_MS = 60_000;
/** The longest a token may live when it has an expiry (ten years). */
const MAX_TOKEN_LIFETIME_MS = 3650 * 86_400_000;

/** Why a presented token was not accepted: said to the caller, who holds the token anyway. */
export type TokenProblem = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'user_disabled';

const TOKEN_PROBLEMS: Record<TokenProblem, string> = {
  malformed: 'the bearer token is not a Swarmflow API token (they start with sfw_)',
  unknown: 'the bearer token is not known to this server',
  revoked: 'the bearer token was revoked',
  expired: 'the bearer token has expired',
  user_disabled: "the bearer token's user is disabled",
};

export function tokenProblemMessage(problem: TokenProblem): string {
  return TOKEN_PROBLEMS[problem];
}

/** A token as created: the secret is shown this once and stored only as a hash. */
export interface CreatedToken {
  token: string;
  info: ApiTokenInfo;
}

/** Reads a token lifetime (`90d`, `12h`); null for `never`. Throws RequestValidationError naming `field`. */
export function parseTokenLifetime(text: string | undefined | null, field: string): number | null {
  if (text === undefined || text === null || text === '' || text === 'never') return null;
  let ms: number;
  try {
    ms = parseDuration(text, field);
  } catch {
    throw new RequestValidationError(field, `must be a duration such as 90d, 12h or 30m, or "never" (got ${JSON.stringify(text)})`);
  }
  if (ms < 60_000 || ms > MAX_TOKEN_LIFETIME_MS) throw new RequestValidationError(field, 'must be between 1m and 3650d');
  return ms;
}

/**
 * Users and API tokens: creating, changing, checking. Shared by the API (users and tokens
 * routes, the auth guard) and by the CLI's `--database` mode, which has no server to ask.
 * Passwords are hashed here (argon2id) and token secrets made here; the repositories only
 * see hashes.
 */
export class Accounts {
  constructor(private readonly repos: Repositories, private readonly clock: () => Date) {}

  listUsers(): Promise<User[]> {
    return this.repos.users.list();
  }

  async getUser(name: string): Promise<User> {
    const user = await this.repos.users.get(name);
    if (!user) throw new NotFoundError('user_not_found', `no user named ${JSON.stringify(name)}: \`swarmflow users list\` shows them`);
    return user;
  }

  /** Creates a user; `password` null makes a user that can only hold tokens. */
  async createUser(input: { name: string; role: Role; password: string | null }): Promise<User> {
    const nameProblem = userNameProblem(input.name);
    if (nameProblem) throw new RequestValidationError('name', nameProblem);
    checkRole(input.role);
    if (input.password !== null) checkPassword(input.password);
    const hashed = input.password === null ? null : await hashPassword(input.password);
    const user = await this.repos.users.create({ name: input.name, role: input.role, passwordHash: hashed }, this.clock());
    if (!user) throw new ConflictError('user_exists', `a user named ${JSON.stringify(input.name)} exists already: pick another name, or change its role with \`swarmflow users set-role\``, 'name');
    return user;
  }

  /** Changes a user's role; refuses to demote the last enabled admin. Ends the user's browser sessions. */
  async setRole(name: string, role: Role): Promise<User> {
    checkRole(role);
    return this.repos.db.transaction(async (tx) => {
      await this.repos.users.lockAdmins(tx);
      const current = await this.repos.users.get(name, tx);
      if (!current) throw new NotFoundError('user_not_found', `no user named ${JSON.stringify(name)}: \`swarmflow users list\` shows them`);
      if (current.role === 'admin' && role !== 'admin' && !current.disabled) await this.keepAnAdmin(tx, `demote ${name}`);
      const user = (await this.repos.users.update(name, { role }, this.clock(), tx))!;
      await this.repos.sessions.deleteForUser(user.id, tx);
      return user;
    });
  }

  /** Disables (or enables) a user: a disabled user cannot log in and its tokens stop working. Keeps one enabled admin. */
  async setDisabled(name: string, disabled: boolean): Promise<User> {
    return this.repos.db.transaction(async (tx) => {
      await this.repos.users.lockAdmins(tx);
      const current = await this.repos.users.get(name, tx);
      if (!current) throw new NotFoundError('user_not_found', `no user named ${JSON.stringify(name)}: \`swarmflow users list\` shows them`);
      if (disabled && current.role === 'admin' && !current.disabled) await this.keepAnAdmin(tx, `disable ${name}`);
      const user = (await this.repos.users.update(name, { disabled }, this.clock(), tx))!;
      if (disabled) await this.repos.sessions.deleteForUser(user.id, tx);
      return user;
    });
  }

  /** Sets a new password and ends the user's browser sessions (tokens stay valid: revoke them separately). */
  async resetPassword(name: string, password: string): Promise<User> {
    checkPassword(password);
    const hashed = await hashPassword(password);
    return this.repos.db.transaction(async (tx) => {
      const user = await this.repos.users.update(name, { passwordHash: hashed }, this.clock(), tx);
      if (!user) throw new NotFoundError('user_not_found', `no user named ${JSON.stringify(name)}: \`swarmflow users list\` shows them`);
      await this.repos.sessions.deleteForUser(user.id, tx);
      return user;
    });
  }

  /** Deletes a user with its tokens and sessions; refuses to delete the last enabled admin. */
  async deleteUser(name: string): Promise<void> {
    await this.repos.db.transaction(async (tx) => {
      await this.repos.users.lockAdmins(tx);
      const current = await this.repos.users.get(name, tx);
      if (!current) throw new NotFoundError('user_not_found', `no user named ${JSON.stringify(name)}: \`swarmflow users list\` shows them`);
      if (current.role === 'admin' && !current.disabled) await this.keepAnAdmin(tx, `delete ${name}`);
      await this.repos.users.delete(name, tx);
    });
  }

  /** Creates an API token for `userName`; `lifetimeMs` null = never expires. */
  async createToken(input: { name: string; userName: string; lifetimeMs: number | null }): Promise<CreatedToken> {
    const tokenName = input.name.trim();
    if (!tokenName || tokenName.length > 100) throw new RequestValidationError('name', 'must be 1–100 characters saying what the token is for, e.g. ci');
    const user = await this.getUser(input.userName);
    const now = this.clock();
    const made = newApiToken();
    const info = await this.repos.tokens.create({
      name: tokenName, userId: user.id, hash: made.hash, prefix: made.prefix,
      expiresAt: input.lifetimeMs === null ? null : new Date(now.getTime() + input.lifetimeMs),
    }, now);
    return { token: made.secret, info };
  }

  listTokens(userName?: string): Promise<ApiTokenInfo[]> {
    return this.repos.tokens.list({ userName });
  }

  async getToken(id: number): Promise<ApiTokenInfo> {
    const token = await this.repos.tokens.get(id);
    if (!token) throw new NotFoundError('token_not_found', `no token with id ${id}: \`swarmflow tokens list\` shows them`);
    return token;
  }

  /** Revokes a token at once (the next request with it gets 401). Revoking a revoked token is a no-op. */
  async revokeToken(id: number): Promise<ApiTokenInfo> {
    const token = await this.repos.tokens.revoke(id, this.clock());
    if (!token) throw new NotFoundError('token_not_found', `no token with id ${id}: \`swarmflow tokens list\` shows them`);
    return token;
  }

  /** The caller a bearer token stands for, or why it is refused. Records the use (at most once a minute). */
  async authenticateToken(secret: string): Promise<{ caller: Caller } | { problem: TokenProblem }> {
    if (!looksLikeApiToken(secret)) return { problem: 'malformed' };
    const found = await this.repos.tokens.findByHash(sha256(secret));
    if (!found) return { problem: 'unknown' };
    const now = this.clock();
    if (found.token.revokedAt) return { problem: 'revoked' };
    if (found.token.expiresAt && found.token.expiresAt <= now) return { problem: 'expired' };
    if (found.user.disabled) return { problem: 'user_disabled' };
    const last = found.token.lastUsedAt;
    if (!last || now.getTime() - last.getTime() >= TOKEN_TOUCH_GRANULARITY_MS) {
      await this.repos.tokens.touch(found.token.id, now, TOKEN_TOUCH_GRANULARITY_MS);
    }
    return { caller: { user: { id: found.user.id, name: found.user.name, role: found.user.role }, method: 'token', tokenId: found.token.id } };
  }

  /** The user when `password` is theirs and they are enabled, else null (the same time either way). */
  async verifyLogin(name: string, password: string): Promise<User | null> {
    const found = userNameProblem(name) ? null : await this.repos.users.passwordHash(name);
    const ok = await verifyPassword(found?.hash ?? null, password);
    return ok && found && !found.user.disabled ? found.user : null;
  }

  /** True when someone can administer the server: an enabled admin exists. */
  async hasAdmin(): Promise<boolean> {
    return (await this.repos.users.countActiveAdmins()) > 0;
  }

  private async keepAnAdmin(tx: Queryable, what: string): Promise<void> {
    if ((await this.repos.users.countActiveAdmins(tx)) <= 1) {
      throw new ConflictError('last_admin', `cannot ${what}: it is the last admin, and nobody could manage users and tokens then. Create another admin first`);
    }
  }
}

function checkRole(role: unknown): asserts role is Role {
  if (!isRole(role)) throw new RequestValidationError('role', `must be one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`);
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new RequestValidationError('password', problem);
}

/** "needs role operator; you are viewer", or null when `held` suffices. */
export function roleShortfall(held: Role, needed: Role): string | null {
  return roleAllows(held, needed) ? null : `needs role ${needed}; you are ${held}`;
}
