import { Controller, Get, Inject, Query } from '@nestjs/common';
import {
  QueueHistoryQuerySchema, TriesQuerySchema, type QueueHistory, type QueueHistoryQuery, type TriesPage, type TriesQuery,
} from '@swarmflow/contracts';
import { TI_STATES, type TiState } from '@swarmflow/core';
import type { Repositories } from '@swarmflow/persistence';
import { QUEUE_SAMPLE_SECONDS } from '../services/queue-sampler.service';
import { CLOCK, REPOSITORIES, type Clock } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { RequestValidationError, ZodValidationPipe } from './zod-validation.pipe';

/** The worker dashboard's reads: every try across DAGs, queue depths over time. */
@Controller()
@RequiresRole('viewer')
export class DashboardController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories, @Inject(CLOCK) private readonly clock: Clock) {}

  /** Every try across DAGs (one row per try), newest first, filtered per try and paged. */
  @Get('tries')
  async tries(@Query(new ZodValidationPipe(TriesQuerySchema, 'query')) q: TriesQuery): Promise<TriesPage> {
    const states = q.state?.split(',');
    const unknown = states?.find((s) => !TI_STATES.includes(s as TiState));
    if (unknown) throw new RequestValidationError('state', `unknown task instance state "${unknown}"; one of ${TI_STATES.join(', ')}`);
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const now = this.clock();
    const { items, total } = await this.repos.dashboard.tries({
      states, queue: q.queue, worker: q.worker, dagId: q.dag, limit, offset,
      since: q.since ? new Date(q.since) : undefined, until: q.until ? new Date(q.until) : undefined,
    });
    return {
      total, limit, offset,
      items: items.map((t) => ({
        tiId: t.tiId, dagId: t.dagId, runId: t.runId, taskId: t.taskId, state: t.state, tryNumber: t.tryNumber, maxTries: t.maxTries,
        queue: t.queue, worker: t.worker, hostname: t.hostname, exitCode: t.exitCode, reason: t.reason,
        queuedAt: t.queuedAt?.toISOString() ?? null, startedAt: t.startedAt?.toISOString() ?? null, endedAt: t.endedAt?.toISOString() ?? null,
        durationSeconds: t.startedAt ? Math.max(0, ((t.endedAt ?? now).getTime() - t.startedAt.getTime()) / 1000) : null,
      })),
    };
  }

  /** Queue depths sampled every 15 s (kept a day), oldest first. */
  @Get('queues/history')
  async queueHistory(@Query(new ZodValidationPipe(QueueHistoryQuerySchema, 'query')) q: QueueHistoryQuery): Promise<QueueHistory> {
    const now = this.clock();
    const since = new Date(now.getTime() - (q.minutes ?? 60) * 60_000);
    const samples = await this.repos.dashboard.queueSamples(since, q.queue);
    return { intervalSeconds: QUEUE_SAMPLE_SECONDS, from: since.toISOString(), to: now.toISOString(), samples: samples.map((s) => ({ ...s, at: s.at.toISOString() })) };
  }
}
