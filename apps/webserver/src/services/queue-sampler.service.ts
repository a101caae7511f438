import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { QueueDepthSample, Repositories } from '@swarmflow/persistence';
import { CLOCK, QUEUE_SAMPLING, REPOSITORIES, type Clock } from '../tokens';
import { WorkerControlService } from './worker-control.service';

/** Seconds between two samples; samples are aligned to multiples of it, so webservers agree. */
export const QUEUE_SAMPLE_SECONDS = 15;
/** How long samples are kept. */
export const QUEUE_SAMPLE_KEEP_MS = 24 * 3600_000;

/**
 * Writes every queue topic's depth (broker ready and consumers, unacked from heartbeats,
 * queued and running task instances) into `queue_depth_sample` every 15 s, for the
 * dashboard's depth-over-time chart; keeps a day. Needs the broker connection.
 */
@Injectable()
export class QueueSamplerService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('QueueSampler');
  private timer: NodeJS.Timeout | null = null;
  private first: NodeJS.Timeout | null = null;

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(WorkerControlService) private readonly control: WorkerControlService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(QUEUE_SAMPLING) private readonly enabled: boolean,
  ) {}

  onModuleInit(): void {
    if (!this.enabled) return;
    const take = () => {
      this.sample().catch((err: unknown) => this.logger.warn(`sampling queue depths failed: ${(err as Error).message}`));
    };
    this.timer = setInterval(take, QUEUE_SAMPLE_SECONDS * 1000);
    this.timer.unref();
    // A first point at start, so the chart is not empty for the first 15 s.
    this.first = setTimeout(take, 1000);
    this.first.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
  }

  /** Takes one sample now (at the current 15 s boundary). */
  async sample(): Promise<QueueDepthSample[]> {
    const now = this.clock().getTime();
    const at = new Date(now - (now % (QUEUE_SAMPLE_SECONDS * 1000)));
    const [queues, busy] = await Promise.all([this.control.queues(), this.repos.dashboard.busyByQueue()]);
    const samples = queues.map((q) => ({
      at, queue: q.queue, ready: q.ready, unacked: q.unacked, consumers: q.consumers,
      queued: busy.get(q.queue)?.queued ?? 0, running: busy.get(q.queue)?.running ?? 0,
    }));
    await this.repos.dashboard.recordQueueSamples(samples, new Date(now - QUEUE_SAMPLE_KEEP_MS));
    return samples;
  }
}
