import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ClearService } from '../services/clear.service';
import { CancelRunService } from '../services/cancel-run.service';
import { MarkService } from '../services/mark.service';
import type { StoppedTry } from '../services/user-changes';
import { KillService } from '../services/kill.service';
import { DagQueriesService, type DagView } from '../services/dag-queries.service';
import { RunQueriesService } from '../services/run-queries.service';
import { TriggerService } from '../services/trigger.service';
import type {
  CancelRunResultDto, ClearResultDto, KillResultDto, MarkResultDto, StoppedTryDto, DagDetailDto, DagSummaryDto, GridDto, RunDetailDto, RunDto, TaskInstanceDetailDto, TaskLogsDto,
} from '@swarmflow/contracts/api.types';
import {
  toDagDetailDto, toDagSummaryDto, toLogLineDto, toRunDetailDto, toRunDto, toTaskInstanceDto, toTryContainerDto, toTryResultDto,
} from './presenters';
import { cacheForceOf, ClearTaskBody, GridQuery, ListRunsQuery, MarkTaskBody, PatchDagBody, ReadLogsQuery, TriggerRunBody } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { Audit, auditNote, callerOf, type AuthedRequest } from '../auth/audit';
import { RequiresRole } from './auth/requires-role.decorator';

const stoppedDto = (s: StoppedTry): StoppedTryDto => ({ taskId: s.taskId, tryNumber: s.tryNumber, sentTo: s.sentTo });

const summary = (v: DagView): DagSummaryDto => toDagSummaryDto(v.dag, v.version, v.lastRun, v.nextRun, v.importError, v.recentRuns);

/** DAGs and everything under one DAG: its runs, their task instances and logs. */
@Controller('dags')
@RequiresRole('viewer')
export class DagsController {
  constructor(
    // Explicit tokens: no reliance on emitted decorator metadata (tsx/esbuild do not emit it).
    @Inject(DagQueriesService) private readonly dags: DagQueriesService,
    @Inject(RunQueriesService) private readonly runs: RunQueriesService,
    @Inject(TriggerService) private readonly triggers: TriggerService,
    @Inject(ClearService) private readonly clears: ClearService,
    @Inject(KillService) private readonly kills: KillService,
    @Inject(MarkService) private readonly marks: MarkService,
    @Inject(CancelRunService) private readonly cancels: CancelRunService,
  ) {}

  @Get()
  async list(): Promise<DagSummaryDto[]> {
    return (await this.dags.list()).map(summary);
  }

  @Get(':dagId')
  async get(@Param('dagId') dagId: string): Promise<DagDetailDto> {
    const view = await this.dags.get(dagId);
    return toDagDetailDto(summary(view), view.version);
  }

  /** The DAG as of one version: the tasks and params a run pinned to it runs with. */
  @Get(':dagId/versions/:versionHash')
  async version(@Param('dagId') dagId: string, @Param('versionHash') versionHash: string): Promise<DagDetailDto> {
    const view = await this.dags.atVersion(dagId, versionHash);
    return toDagDetailDto(summary(view), view.version);
  }

  /** The newest runs with their task instances in one answer (the UI's grid of runs × tasks). */
  @Get(':dagId/grid')
  async grid(@Param('dagId') dagId: string, @Query(new ZodValidationPipe(GridQuery, 'query')) query: GridQuery): Promise<GridDto> {
    const runs = await this.runs.grid(dagId, query.limit);
    return { dagId, runs: runs.map(({ run, tis }) => ({ ...toRunDto(run), taskInstances: tis.map((ti) => toTaskInstanceDto(ti)) })) };
  }

  @Patch(':dagId')
  @RequiresRole('operator')
  @Audit('dag.pause')
  async patch(@Param('dagId') dagId: string, @Body(new ZodValidationPipe(PatchDagBody)) body: PatchDagBody): Promise<DagSummaryDto> {
    return summary(await this.dags.setPaused(dagId, body.isPaused));
  }

  @Post(':dagId/runs')
  @RequiresRole('operator')
  @Audit('dag.trigger')
  @HttpCode(201)
  async trigger(@Param('dagId') dagId: string, @Body(new ZodValidationPipe(TriggerRunBody)) body: TriggerRunBody): Promise<RunDto> {
    const run = await this.triggers.trigger(dagId, {
      conf: body.conf, runId: body.runId, logicalDate: body.logicalDate ? new Date(body.logicalDate) : undefined, cacheForce: cacheForceOf(body),
    });
    return toRunDto(run);
  }

  @Get(':dagId/runs')
  async listRuns(
    @Param('dagId') dagId: string,
    @Query(new ZodValidationPipe(ListRunsQuery.omit({ dagId: true }), 'query')) query: Omit<ListRunsQuery, 'dagId'>,
  ): Promise<RunDto[]> {
    return (await this.runs.list({ ...query, dagId }, true)).map(toRunDto);
  }

  @Get(':dagId/runs/:runId')
  async getRun(@Param('dagId') dagId: string, @Param('runId') runId: string): Promise<RunDetailDto> {
    const { run, tis, results } = await this.runs.getWithResults(dagId, runId);
    return toRunDetailDto(run, tis, results);
  }

  @Get(':dagId/runs/:runId/tasks/:taskId')
  async getTask(@Param('dagId') dagId: string, @Param('runId') runId: string, @Param('taskId') taskId: string): Promise<TaskInstanceDetailDto> {
    const { run, ti, history } = await this.runs.taskInstance(dagId, runId, taskId);
    const [results, containers] = await Promise.all([this.runs.results(ti.id), this.runs.containers(ti.id)]);
    return {
      dagId: run.dagId, runId: run.runId, ...toTaskInstanceDto(ti, results[0]),
      history: history.map((h) => ({ ...h, at: h.at.toISOString() })),
      tries: results.map(toTryResultDto),
      containers: containers.map(toTryContainerDto),
    };
  }

  @Get(':dagId/runs/:runId/tasks/:taskId/logs')
  async logs(
    @Param('dagId') dagId: string,
    @Param('runId') runId: string,
    @Param('taskId') taskId: string,
    @Query(new ZodValidationPipe(ReadLogsQuery, 'query')) query: ReadLogsQuery,
  ): Promise<TaskLogsDto> {
    const logs = await this.runs.logs(dagId, runId, taskId, query.try, query.cursor);
    return { ...logs, lines: logs.lines.map(toLogLineDto) };
  }

  @Post(':dagId/runs/:runId/tasks/:taskId/clear')
  @RequiresRole('operator')
  @Audit('task.clear')
  @HttpCode(200)
  async clear(
    @Param('dagId') dagId: string,
    @Param('runId') runId: string,
    @Param('taskId') taskId: string,
    @Body(new ZodValidationPipe(ClearTaskBody)) body: ClearTaskBody,
  ): Promise<ClearResultDto> {
    if (body.dryRun) {
      const preview = await this.clears.clear(dagId, runId, taskId, { downstream: body.downstream, upstream: body.upstream, dryRun: true });
      return { dagId, runId, dryRun: true, cleared: preview.cleared, taskInstances: preview.taskInstances, busy: preview.busy };
    }
    const { cleared } = await this.clears.clear(dagId, runId, taskId, { downstream: body.downstream, upstream: body.upstream, latestImages: body.latestImages });
    return { dagId, runId, cleared };
  }

  /**
   * Marks the task instance (and optionally its downstream and/or upstream) `success` or
   * `failed`; a try a worker holds is stopped. `dryRun` answers the changes and writes nothing.
   */
  @Post(':dagId/runs/:runId/tasks/:taskId/mark')
  @RequiresRole('operator')
  @Audit('task.mark')
  @HttpCode(200)
  async mark(
    @Param('dagId') dagId: string,
    @Param('runId') runId: string,
    @Param('taskId') taskId: string,
    @Body(new ZodValidationPipe(MarkTaskBody)) body: MarkTaskBody,
    @Req() req: AuthedRequest,
  ): Promise<MarkResultDto> {
    const dryRun = body.dryRun ?? false;
    const result = await this.marks.mark(dagId, runId, taskId, body.state, {
      downstream: body.downstream ?? false, upstream: body.upstream ?? false, dryRun, actor: callerOf(req)!.user.name,
    });
    auditNote(req, { detail: { state: body.state, downstream: body.downstream ?? false, upstream: body.upstream ?? false, dryRun, changed: result.changes.map((c) => c.taskId) } });
    return { dagId, runId, taskId, state: body.state, dryRun, changes: result.changes, stopped: result.stopped.map(stoppedDto) };
  }

  /**
   * Cancels the run: running tries end failed (their workers stop them), what had not
   * started ends skipped, and the run ends failed with the reason `cancelled by <user>`.
   */
  @Post(':dagId/runs/:runId/cancel')
  @RequiresRole('operator')
  @Audit('run.cancel')
  @HttpCode(200)
  async cancel(@Param('dagId') dagId: string, @Param('runId') runId: string, @Req() req: AuthedRequest): Promise<CancelRunResultDto> {
    const result = await this.cancels.cancel(dagId, runId, callerOf(req)!.user.name);
    auditNote(req, { detail: { changed: result.changes.length, stopped: result.stopped.map((s) => s.taskId) } });
    return { dagId, runId, state: 'failed', reason: result.reason, changes: result.changes, stopped: result.stopped.map(stoppedDto) };
  }

  /** Stops the try wherever it is (it ends failed, not retried). 202: a running try's worker acts on it. */
  @Post(':dagId/runs/:runId/tasks/:taskId/kill')
  @RequiresRole('operator')
  @Audit('task.kill')
  @HttpCode(202)
  async kill(
    @Param('dagId') dagId: string,
    @Param('runId') runId: string,
    @Param('taskId') taskId: string,
  ): Promise<KillResultDto> {
    const result = await this.kills.kill(dagId, runId, taskId);
    return { dagId, runId, taskId, ...result };
  }
}
