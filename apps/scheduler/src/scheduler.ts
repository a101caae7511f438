import { existsSync } from 'node:fs';
import type { Broker } from '@swarmflow/messaging';
import { processMetrics, type ClusterSnapshot } from '@swarmflow/observability';
import type { Repositories } from '@swarmflow/persistence';
import type { ClusterKey } from '@swarmflow/secrets';
import { DagProcessingStopped, DagProcessor } from './dag-processor/dag-processor';
import { TaskLogsHandler } from './handlers/task-logs.handler';
import { clusterSnapshotReader } from './services/scheduler-metrics';
import { SchedulerRunner, type SchedulerLogger } from './services/scheduler-runner';
import { DEFAULT_SCHEDULING_OPTIONS } from './services/scheduling.service';

export interface SchedulerParts {
  dagsFolder: string;
  dagParseIntervalMs: number;
  dagFileTimeoutMs: number;
  /** Memory one DAG file's import may use, in MiB (default 1024). */
  dagFileMemoryMb?: number;
  /**
   * Whether start() waits for the first parse of the DAGs folder (default true). Standalone
   * does not, so its API answers while a slow folder is still being parsed.
   */
  awaitFirstParse?: boolean;
  tickMs: number;
  heartbeatTimeoutMs: number;
  dispatchBatch?: number;
  /** See SchedulingOptions.dispatchSlice (default 256). */
  dispatchSlice?: number;
  /** See SchedulingOptions.outboxSweepAgeMs (default 10 s). */
  outboxSweepAgeMs?: number;
  /** See SchedulingOptions.eventCoalesceMs (default 5 ms). */
  eventCoalesceMs?: number;
  /** See SchedulingOptions.workerGoneMs (default 2 s; 0 = off). */
  workerGoneMs?: number;
  /** Encrypts the plain variables container tasks mount; null = only secret variables can be mounted. */
  clusterKey?: ClusterKey | null;
  /** See SchedulingOptions.artifactsUrl (SWARMFLOW_ARTIFACTS_URL). */
  artifactsUrl?: string | null;
}

/**
 * The scheduler app: DAG processor, scheduling loop and log sink over one database and
 * one broker. Several may run at once (HA).
 */
export class Scheduler {
  readonly runner: SchedulerRunner;
  readonly processor: DagProcessor;
  private readonly logSink: TaskLogsHandler;
  private parseTimer: NodeJS.Timeout | null = null;
  private parsing: Promise<unknown> = Promise.resolve();
  private stopping = false;
  /** Feeds the cluster gauges of this process's metrics (task instances, workers, queues, outbox) at scrape time. */
  private readonly readCluster: () => Promise<ClusterSnapshot>;
  /** Resolves when the first parse of the DAGs folder has ended (recorded, failed or stopped). */
  firstParse: Promise<void> = Promise.resolve();

  constructor(private readonly parts: SchedulerParts, readonly repos: Repositories, broker: Broker, private readonly logger: SchedulerLogger) {
    this.processor = new DagProcessor({ folder: parts.dagsFolder, fileTimeoutMs: parts.dagFileTimeoutMs, fileMemoryMb: parts.dagFileMemoryMb }, repos.dags);
    this.runner = new SchedulerRunner(repos, broker, logger, {
      tickMs: parts.tickMs, heartbeatTimeoutMs: parts.heartbeatTimeoutMs, dispatchBatch: parts.dispatchBatch ?? 2048,
      dispatchSlice: parts.dispatchSlice ?? DEFAULT_SCHEDULING_OPTIONS.dispatchSlice, outboxSweepAgeMs: parts.outboxSweepAgeMs ?? 10_000,
      eventCoalesceMs: parts.eventCoalesceMs ?? DEFAULT_SCHEDULING_OPTIONS.eventCoalesceMs, workerGoneMs: parts.workerGoneMs,
      artifactsUrl: parts.artifactsUrl ?? null,
    }, undefined, parts.clusterKey ?? null);
    this.logSink = new TaskLogsHandler(broker, repos.logs, logger);
    this.readCluster = clusterSnapshotReader(repos, broker);
  }

  async start(): Promise<void> {
    if (!existsSync(this.parts.dagsFolder)) {
      this.logger.warn(`DAGs folder ${this.parts.dagsFolder} does not exist yet; no DAGs will load until it does (SWARMFLOW_DAGS_FOLDER)`);
    } else {
      // A new or changed file is parsed at once; the interval still catches what watching misses.
      this.processor.watch(() => void this.parseDags(false));
      const first = this.parseDags(true);
      this.firstParse = first.then(() => undefined);
      if (this.parts.awaitFirstParse ?? true) await first;
    }
    await this.logSink.start();
    await this.runner.start();
    this.parseTimer = setInterval(() => void this.parseDags(false), this.parts.dagParseIntervalMs);
    processMetrics().setClusterSource(this.readCluster);
  }

  /** Parses the DAGs folder now (when files changed, or always with `force`). */
  parseDags(force: boolean): Promise<unknown> {
    this.parsing = this.parsing.then(async () => {
      if (this.stopping || !existsSync(this.parts.dagsFolder)) return;
      try {
        const startedAt = performance.now();
        const result = await this.processor.run(new Date(), force);
        if (!result) return;
        processMetrics().dagProcessing.observe((performance.now() - startedAt) / 1000);
        this.logger.log(`parsed ${this.parts.dagsFolder}: ${result.dags.length} DAG(s), ${result.errors.length} import error(s)`);
        for (const e of result.errors) this.logger.warn(`import error: ${e.message}`);
        this.runner.nudge();
      } catch (err) {
        if (err instanceof DagProcessingStopped) return;
        this.logger.error(`DAG processing failed: ${(err as Error).message}`);
      }
    });
    return this.parsing;
  }

  /** @param options see SchedulerRunner.stop (`finishEvents`: apply every event sent so far first) */
  async stop(options: { finishEvents?: boolean } = {}): Promise<void> {
    this.stopping = true;
    processMetrics().unsetClusterSource(this.readCluster);
    if (this.parseTimer) clearInterval(this.parseTimer);
    // A parse round may take minutes: its import is killed, nothing of it is recorded.
    this.processor.stop();
    await this.parsing;
    await this.runner.stop(options);
    await this.logSink.stop();
  }
}
