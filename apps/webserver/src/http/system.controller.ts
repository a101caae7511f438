import { Controller, Get, Inject } from '@nestjs/common';
import { SystemQueriesService } from '../services/system-queries.service';
import type { HealthDto, ImportErrorDto, PoolDto, WorkerDto } from './api.types';
import { toImportErrorDto, toWorkerDto } from './presenters';

/** Health, import errors, workers and pools. */
@Controller()
export class SystemController {
  constructor(@Inject(SystemQueriesService) private readonly system: SystemQueriesService) {}

  @Get('health')
  health(): HealthDto {
    return { status: 'ok' };
  }

  @Get('import-errors')
  async importErrors(): Promise<ImportErrorDto[]> {
    return (await this.system.importErrors()).map(toImportErrorDto);
  }

  @Get('workers')
  async workers(): Promise<WorkerDto[]> {
    return (await this.system.workers()).map(toWorkerDto);
  }

  @Get('pools')
  pools(): Promise<PoolDto[]> {
    return this.system.pools();
  }
}
