import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ArtifactsService } from '../services/artifacts.service';
import { Audit } from '../auth/audit';
import { BackfillService } from '../services/backfill.service';
import { RunUpgradeService } from '../services/run-upgrade.service';
import { RequiresRole } from './auth/requires-role.decorator';
import type { BackfillDto, DagVersionDto, RunUpgradeDto, TaskArtifactsDto } from '@swarmflow/contracts/backfill.types';
import { BackfillIdPipe, CreateBackfillBody, ListArtifactsQuery, UpgradeRunBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';

/** Backfills of a DAG, its versions, moving a run to another version, and a try's artefacts. */
@Controller('dags')
@RequiresRole('viewer')
export class BackfillsController {
  constructor(
    @Inject(BackfillService) private readonly backfills: BackfillService,
    @Inject(RunUpgradeService) private readonly upgrades: RunUpgradeService,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
  ) {}

  @Get(':dagId/runs/:runId/tasks/:taskId/artifacts')
  async listArtifacts(
    @Param('dagId') dagId: string, @Param('runId') runId: string, @Param('taskId') taskId: string,
    @Query(new ZodValidationPipe(ListArtifactsQuery, 'query')) query: ListArtifactsQuery,
  ): Promise<TaskArtifactsDto> {
    return this.artifacts.list(dagId, runId, taskId, query.try);
  }

  /** 201 for a new backfill; 200 for a dry run or a resumed one. */
  @Post(':dagId/backfills')
  @RequiresRole('operator')
  @Audit('backfill.create')
  @HttpCode(201)
  async create(@Param('dagId') dagId: string, @Body(new ZodValidationPipe(CreateBackfillBody)) body: CreateBackfillBody): Promise<BackfillDto> {
    return this.backfills.create(dagId, {
      from: new Date(body.from), to: new Date(body.to), tasks: body.tasks ?? null, ignoreDependencies: body.ignoreDependencies ?? false,
      rerunFailed: body.rerunFailed ?? false, maxActiveRuns: body.maxActiveRuns, dryRun: body.dryRun ?? false,
    });
  }

  @Get(':dagId/backfills')
  async list(@Param('dagId') dagId: string): Promise<BackfillDto[]> {
    return this.backfills.list(dagId);
  }

  @Get(':dagId/backfills/:backfillId')
  async get(@Param('dagId') dagId: string, @Param('backfillId', BackfillIdPipe) id: number): Promise<BackfillDto> {
    return this.backfills.get(dagId, id);
  }

  /** Interrupts it: queued runs wait, running ones go on; creating the same backfill again resumes it. */
  @Post(':dagId/backfills/:backfillId/pause')
  @RequiresRole('operator')
  @Audit('backfill.pause')
  @HttpCode(200)
  async pause(@Param('dagId') dagId: string, @Param('backfillId', BackfillIdPipe) id: number): Promise<BackfillDto> {
    return this.backfills.pause(dagId, id);
  }

  @Get(':dagId/versions')
  async versions(@Param('dagId') dagId: string): Promise<DagVersionDto[]> {
    return this.upgrades.versions(dagId);
  }

  @Post(':dagId/runs/:runId/upgrade')
  @RequiresRole('operator')
  @Audit('run.upgrade')
  @HttpCode(200)
  async upgrade(
    @Param('dagId') dagId: string, @Param('runId') runId: string, @Body(new ZodValidationPipe(UpgradeRunBody)) body: UpgradeRunBody,
  ): Promise<RunUpgradeDto> {
    return this.upgrades.upgrade(dagId, runId, body.to, body.dryRun ?? false);
  }
}
