import type { Role } from './roles';

/** A person or robot that may call the API. Passwords never leave the persistence layer as anything but a hash. */
export interface User {
  id: number;
  name: string;
  role: Role;
  /** A disabled user can neither log in nor use its tokens. */
  disabled: boolean;
  /** False for a user that only has tokens (created without a password). */
  hasPassword: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** An API token as listed: never its secret, only the first characters that identify it. */
export interface ApiTokenInfo {
  id: number;
  name: string;
  /** The user whose role the token carries. */
  userName: string;
  /** The token's first characters (`sfw_abcd1234`), to recognise it in a list. */
  prefix: string;
  createdAt: Date;
  /** null = never expires. */
  expiresAt: Date | null;
  /** Kept to the minute: updated at most once a minute per token. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** How a caller proved who it is. */
export type AuthMethod =
  | 'token' //    Authorization: Bearer sfw_…
  | 'session' //  the browser's session cookie (writes need the CSRF header)
  | 'proxy' //    a trusted authenticating proxy's user header
  | 'database'; // the CLI with --database: whoever can reach the database directly

/** Who is calling, once authenticated. */
export interface Caller {
  user: Pick<User, 'id' | 'name' | 'role'>;
  method: AuthMethod;
  /** The token used (method 'token'). */
  tokenId?: number;
  /** The session used (method 'session'). */
  sessionId?: string;
}

export type AuditOutcome =
  | 'ok' //      the write was done
  | 'failed' //  the write was refused or failed (bad input, not found, conflict, server error)
  | 'denied'; // the caller was not authenticated or lacked the role

/** One line of the audit log. Never holds a secret value: a variable is named by its key only. */
export interface AuditEntry {
  id: number;
  at: Date;
  /** The user's name; null for an anonymous caller (a failed login names the user tried in `target`). */
  actor: string | null;
  method: AuthMethod | null;
  /** What was done, `<noun>.<verb>`: `dag.trigger`, `variable.set`, `auth.login`. */
  action: string;
  /** What it was done to: a path such as `dags/etl/runs/r1`, a user name, a variable key. */
  target: string | null;
  outcome: AuditOutcome;
  /** The HTTP status answered, when it was an API call. */
  status: number | null;
  /** The caller's address (the client's, behind a trusted proxy). */
  sourceIp: string | null;
  /** Short non-secret facts (e.g. the role set, a token's name). */
  detail: Record<string, unknown>;
}

export type AuditWrite = Omit<AuditEntry, 'id'>;

/** User names: letters, digits and `._@-`, 1–100 characters, starting with a letter or digit. */
export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

/** The shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 8;

/** Why `name` cannot be a user name, or null when it can. */
export function userNameProblem(name: string): string | null {
  return USER_NAME_PATTERN.test(name) ? null : 'must be 1–100 letters, digits, ".", "_", "@" or "-", starting with a letter or digit';
}

/** Why `password` is not acceptable, or null when it is. Never echoes the password. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'must be at most 1024 characters';
  return null;
}
