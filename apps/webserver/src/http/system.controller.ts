import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Res } from '@nestjs/common';
import { HealthService } from '../services/health.service';
import { SystemQueriesService } from '../services/system-queries.service';
import type { HealthDto, ImportErrorDto, PoolDto, WorkerDto } from '@swarmflow/contracts/api.types';
import { toImportErrorDto, toWorkerDto } from './presenters';
import { PoolNamePipe, PutPoolBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { CLOCK, type Clock } from '../tokens';
import { Audit } from '../auth/audit';
import { Public, RequiresRole } from './auth/requires-role.decorator';

/** Health, import errors, workers, and pools (listed, set, deleted). */
@Controller()
@RequiresRole('viewer')
export class SystemController {
  constructor(
    @Inject(SystemQueriesService) private readonly system: SystemQueriesService,
    @Inject(HealthService) private readonly healthService: HealthService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Each dependency's state; 503 when one the server needs is down (load balancers and `--wait` retry on it). */
  @Get('health')
  @Public()
  async health(@Res({ passthrough: true }) res: { status(code: number): unknown }): Promise<HealthDto> {
    const health = await this.healthService.check();
    if (health.status !== 'ok') res.status(503);
    return health;
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
