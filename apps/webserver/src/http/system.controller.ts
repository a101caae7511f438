import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Res } from '@nestjs/common';
import { SystemQueriesService } from '../services/system-queries.service';
import type { HealthDto, ImportErrorDto, PoolDto, WorkerDto } from './api.types';
import { toImportErrorDto, toWorkerDto } from './presenters';
import { PoolNamePipe, PutPoolBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { Audit } from '../auth/audit';
import { Public, RequiresRole } from './auth/requires-role.decorator';

/** Health, import errors, workers, and pools (listed, set, deleted). */
@Controller()
@RequiresRole('viewer')
export class SystemController {
  constructor(@Inject(SystemQueriesService) private readonly system: SystemQueriesService) {}

  @Get('health')
  @Public()
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

  /** Creates (201) or resizes (200) a pool; the scheduler applies it within a tick. */
  @Put('pools/:name')
  @RequiresRole('admin')
  @Audit('pool.set')
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
  @RequiresRole('admin')
  @Audit('pool.delete')
  @HttpCode(204)
  async deletePool(@Param('name', PoolNamePipe) name: string): Promise<void> {
    await this.system.deletePool(name);
  }
}
