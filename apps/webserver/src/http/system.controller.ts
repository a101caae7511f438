import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Res } from '@nestjs/common';
import { SystemQueriesService } from '../services/system-queries.service';
import type { HealthDto, ImportErrorDto, PoolDto, WorkerDto } from './api.types';
import { toImportErrorDto, toWorkerDto } from './presenters';
import { PoolNamePipe, PutPoolBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { CLOCK, type Clock } from '../tokens';

/** Health, import errors, workers, and pools (listed, set, deleted). */
@Controller()
export class SystemController {
  constructor(
    @Inject(SystemQueriesService) private readonly system: SystemQueriesService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

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
    const now = this.clock();
    return (await this.system.workers()).map((w) => toWorkerDto(w, now));
  }

  @Get('pools')
  pools(): Promise<PoolDto[]> {
    return this.system.pools();
  }

  /** Creates (201) or resizes (200) a pool; the scheduler applies it within a tick. */
  @Put('pools/:name')
  async setPool(
    @Param('name', PoolNamePipe) name: string,
    @Body(new ZodValidationPipe(PutPoolBody)) body: PutPoolBody,
    @Res({ passthrough: true }) res: { status(code: number): unknown },
  ): Promise<PoolDto> {
    const { pool, created } = await this.system.setPool({ name, ...body });
    res.status(created ? 201 : 200);
    return pool;
  }

  @Delete('pools/:name')
  @HttpCode(204)
  async deletePool(@Param('name', PoolNamePipe) name: string): Promise<void> {
    await this.system.deletePool(name);
  }
}
