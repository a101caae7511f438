import { Controller, Get, Inject, Query } from '@nestjs/common';
import { parseDuration } from '@swarmflow/core';
import type { Repositories } from '@swarmflow/persistence';
import { CLOCK, REPOSITORIES, type Clock } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { ListAuditQuery } from './auth.dto';
import { toAuditEntryDto } from './auth.presenters';
import type { AuditEntryDto } from '@swarmflow/contracts/auth.types';
import { RequestValidationError, ZodValidationPipe } from './zod-validation.pipe';

/** The audit log, newest first (admins). */
@Controller('audit')
@RequiresRole('admin')
export class AuditController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories, @Inject(CLOCK) private readonly clock: Clock) {}

  @Get()
  async list(@Query(new ZodValidationPipe(ListAuditQuery, 'query')) query: ListAuditQuery): Promise<AuditEntryDto[]> {
    const since = query.since === undefined ? null : parseSince(query.since, this.clock());
    const entries = await this.repos.audit.list({ since, limit: query.limit ?? 100, actor: query.actor, action: query.action });
    return entries.map(toAuditEntryDto);
  }
}

/** `since`: an ISO timestamp, or a duration back from `now` (`1h`, `7d`). */
export function parseSince(text: string, now: Date): Date {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(text.trim())) {
    try {
      return new Date(now.getTime() - parseDuration(text, 'since'));
    } catch {
      // fall through to the error below
    }
  } else if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) {
    return new Date(text);
  }
  throw new RequestValidationError('since', `must be a duration back from now (1h, 7d) or an ISO timestamp such as 2025-01-01T00:00:00Z (got ${JSON.stringify(text)})`);
}
