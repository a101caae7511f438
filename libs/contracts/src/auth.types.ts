import type { AuditOutcome, AuthMethod, Role } from '@swarmflow/core';

/** A user as the API shows it: never a password or its hash. */
export interface UserDto {
  name: string;
  role: Role;
  disabled: boolean;
  hasPassword: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A token as listed: never its secret. */
export interface TokenDto {
  id: number;
  name: string;
  user: string;
  /** The token's first characters, to recognise it. */
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** A token just created: `token` is shown this once and cannot be read again. */
export interface CreatedTokenDto extends TokenDto {
  token: string;
}

/** Who the caller is (`GET /auth/me`, the login answer). */
export interface MeDto {
  name: string;
  role: Role;
  method: AuthMethod;
  /** For a session: echo it in the X-CSRF-Token header on every write. */
  csrfToken?: string;
}

/** The answer to a login asking for a token (`as: "token"`), e.g. `swarmflow login`. */
export interface LoginTokenDto {
  user: { name: string; role: Role };
  token: CreatedTokenDto;
}

export interface AuditEntryDto {
  id: number;
  at: string;
  actor: string | null;
  method: AuthMethod | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  status: number | null;
  sourceIp: string | null;
  detail: Record<string, unknown>;
}
