import { Body, Controller, Get, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { Repositories } from '@swarmflow/persistence';
import { Audit } from '../auth/audit';
import { CLOCK, REPOSITORIES, type Clock } from '../tokens';
import type { CacheEntryDto, InvalidateCacheResultDto } from '@swarmflow/contracts/api.types';
import { RequiresRole } from './auth/requires-role.decorator';
import { toCacheEntryDto } from './presenters';
import { CacheQuery, InvalidateCacheBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';

/** The task cache's entries: the successful tries cacheable tasks may take over. */
@Controller('cache')
export class CacheController {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @RequiresRole('viewer')
  async list(@Query(new ZodValidationPipe(CacheQuery, 'query')) query: CacheQuery): Promise<CacheEntryDto[]> {
    return (await this.repos.results.listCache(query)).map(toCacheEntryDto);
  }

  /** The matching entries serve no more hits; their tries and outputs stay. */
  @Post('invalidate')
  @HttpCode(200)
  @RequiresRole('admin')
  @Audit('cache.invalidate')
  async invalidate(@Body(new ZodValidationPipe(InvalidateCacheBody)) body: InvalidateCacheBody): Promise<InvalidateCacheResultDto> {
    return { invalidated: await this.repos.results.invalidate({ dagId: body.dagId, taskId: body.taskId, key: body.key }, this.clock()) };
  }
}
