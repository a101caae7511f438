import type { ApiTokenInfo, AuditEntry, User } from '@swarmflow/core';
import type { AuditEntryDto, CreatedTokenDto, TokenDto, UserDto } from '@swarmflow/contracts/auth.types';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toUserDto(u: User): UserDto {
  return { name: u.name, role: u.role, disabled: u.disabled, hasPassword: u.hasPassword, createdAt: u.createdAt.toISOString(), updatedAt: u.updatedAt.toISOString() };
}

export function toTokenDto(t: ApiTokenInfo): TokenDto {
  return {
    id: t.id, name: t.name, user: t.userName, prefix: t.prefix, createdAt: t.createdAt.toISOString(),
    expiresAt: iso(t.expiresAt), lastUsedAt: iso(t.lastUsedAt), revokedAt: iso(t.revokedAt),
  };
}

export function toCreatedTokenDto(created: { token: string; info: ApiTokenInfo }): CreatedTokenDto {
  return { ...toTokenDto(created.info), token: created.token };
}

export function toAuditEntryDto(e: AuditEntry): AuditEntryDto {
  return { ...e, at: e.at.toISOString() };
}
