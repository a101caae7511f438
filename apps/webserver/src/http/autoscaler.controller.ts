import { Controller, Get, Inject, Query } from '@nestjs/common';
import type { AutoscalerDecisionRecord, Repositories } from '@swarmflow/persistence';
import { z } from 'zod';
import { REPOSITORIES } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { ZodValidationPipe } from './zod-validation.pipe';
import type { AutoscalerDecisionDto, AutoscalerViewDto } from '@swarmflow/contracts/api.types';

/** Query of GET /autoscaler: one group's history, at most `limit` decisions. */
export const AutoscalerQuery = z.object({
  group: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
}).strict();
export type AutoscalerQuery = z.infer<typeof AutoscalerQuery>;

const toDto = (d: AutoscalerDecisionRecord): AutoscalerDecisionDto => ({ ...d, at: d.at.toISOString() });

/** What the autoscaler decided: each group's latest decision and the history (viewers). */
@Controller('autoscaler')
@RequiresRole('viewer')
export class AutoscalerController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {}

  @Get()
  async view(@Query(new ZodValidationPipe(AutoscalerQuery, 'query')) query: AutoscalerQuery): Promise<AutoscalerViewDto> {
    const [latest, history] = await Promise.all([
      this.repos.autoscaler.latest(),
      this.repos.autoscaler.history({ group: query.group ?? null, limit: query.limit ?? 50 }),
    ]);
    return { groups: latest.map(toDto), history: history.map(toDto) };
  }
}
