import { Controller, Get, Inject, Query } from '@nestjs/common';
import { RunQueriesService } from '../services/run-queries.service';
import type { RunDto } from '@swarmflow/contracts/api.types';
import { toRunDto } from './presenters';
import { ListRunsQuery } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { RequiresRole } from './auth/requires-role.decorator';

/** Runs across DAGs. */
@Controller('runs')
@RequiresRole('viewer')
export class RunsController {
  constructor(@Inject(RunQueriesService) private readonly runs: RunQueriesService) {}

  @Get()
  async list(@Query(new ZodValidationPipe(ListRunsQuery, 'query')) query: ListRunsQuery): Promise<RunDto[]> {
    return (await this.runs.list(query)).map(toRunDto);
  }
}
