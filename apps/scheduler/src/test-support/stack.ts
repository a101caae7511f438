import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveParams, type DagRunState, type WorkerHeartbeatEvent } from '@swarmflow/core';
import { EXCHANGES, MemoryBroker, type Broker } from '@swarmflow/messaging';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { Database, Repositories, type DagRun, type TaskInstance } from '@swarmflow/persistence';
import { ClusterKey } from '@swarmflow/secrets';
import { startWorker, type WorkerService } from '../../../worker/src';
import { Scheduler, type SchedulerParts } from '../scheduler';

export const quietLogger = { log: () => {}, warn: () => {}, error: (m: string) => process.stderr.write(`${m}\n`) };

export interface StackOptions {
  databaseUrl: string;
  /** DAG files to write into a fresh DAGs folder: relative path → content. */
  dagFiles: Record<string, string>;
  /** A broker per process role; defaults to one shared in-memory broker. */
  makeBroker?: () => Promise<Broker>;
  workers?: WorkerSetup[];
  scheduler?: Partial<SchedulerParts>;
  /** The cluster key of scheduler and workers (signing task messages, sealing the variables container tasks mount); default: a new one. */
  clusterKey?: ClusterKey;
}

export interface WorkerSetup {
  queues?: string[];
  concurrency?: number;
  heartbeatIntervalMs?: number;
  gpus?: string[];
  name?: string;
  /** See WorkerOptions.startedDelayMs (default 50 ms). */
  startedDelayMs?: number;
}

/**
 * A scheduler and workers in this process over a real database, for integration tests
 * and the benchmark. Each part gets its own broker connection, as separate processes would.
 */
export class Stack {
  readonly folder: string;
  readonly db: Database;
  readonly repos: Repositories;
  scheduler!: Scheduler;
  readonly workers: WorkerService[] = [];
  /** Shared by the scheduler and the workers (give it to workers started elsewhere: `SWARMFLOW_CLUSTER_KEY`). */
  readonly clusterKey: ClusterKey;
  private readonly brokers: Broker[] = [];
  private readonly makeBroker: () => Promise<Broker>;
  private lastLogicalDate = 0;
  private barriers = 0;

  constructor(private readonly options: StackOptions) {
    this.clusterKey = options.clusterKey ?? ClusterKey.generate();
    this.folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-dags-'));
    this.writeDags(options.dagFiles);
    this.db = new Database({ url: options.databaseUrl, poolSize: 4 });
    this.repos = new Repositories(this.db);
    const shared = new MemoryBroker();
    let sharedStarted = false;
    this.makeBroker = options.makeBroker ?? (async () => {
      if (!sharedStarted) await shared.start();
      sharedStarted = true;
      return shared;
    });
  }

  writeDags(files: Record<string, string>): void {
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(this.folder, file)), { recursive: true });
      writeFileSync(path.join(this.folder, file), content);
    }
  }

  async start(): Promise<this> {
    await this.db.connect();
    await this.startScheduler(this.options.scheduler);
    for (const w of this.options.workers ?? [{}]) await this.addWorker(w);
    return this;
  }

  /** Stops the scheduler and starts a new one with these settings (the stack's own by default), as a redeploy would. */
  async restartScheduler(parts: Partial<SchedulerParts> = this.options.scheduler ?? {}): Promise<void> {
    await this.scheduler.stop();
    await this.startScheduler(parts);
  }

  private async startScheduler(parts: Partial<SchedulerParts> | undefined): Promise<void> {
    this.scheduler = new Scheduler({
      dagsFolder: this.folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 20_000, tickMs: 200,
      heartbeatTimeoutMs: 30_000, clusterKey: this.clusterKey, ...parts,
    }, this.repos, await this.broker(), quietLogger);
    await this.scheduler.start();
  }

  async addWorker(w: WorkerSetup = {}): Promise<WorkerService> {
    const worker = await startWorker({
      name: w.name ?? `test-worker-${this.workers.length + 1}-${process.pid}`, hostname: 'localhost', queues: w.queues ?? ['default'],
      concurrency: w.concurrency ?? 4, heartbeatIntervalMs: w.heartbeatIntervalMs ?? 1000, graceMs: 2000, logFlushMs: 50,
      gpus: w.gpus ?? [], startedDelayMs: w.startedDelayMs,
    }, await this.broker(), { logger: quietLogger, clusterKey: this.clusterKey });
    this.workers.push(worker);
    return worker;
  }

  /**
   * Resolves once the scheduler has applied every event published on the events exchange
   * before this call: a barrier. It sends the heartbeat of a stopped, made-up worker behind
   * them and waits until the database records it (events are applied in the order they
   * arrive, a heartbeat with or after the events before it). For tests that check that an
   * event changed nothing: wait for the barrier, then look.
   */
  async eventsApplied(timeoutMs = 30_000): Promise<void> {
    const worker = `barrier-${++this.barriers}-${process.pid}`;
    const beat: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker, hostname: 'barrier', queues: [], concurrency: 1, running: [], state: 'stopped', at: new Date().toISOString(),
    };
    await (await this.broker()).publish(EXCHANGES.events, 'worker.heartbeat', beat);
    await waitUntil(`the scheduler to apply the events before barrier ${worker}`, () => this.repos.workers.get(worker), { timeoutMs, intervalMs: 20 });
  }

  /** A broker for one more part of the stack (the shared in-memory one by default). */
  async broker(): Promise<Broker> {
    const b = await this.makeBroker();
    if (!this.brokers.includes(b)) this.brokers.push(b);
    return b;
  }

  /**
   * Creates a manual run as the API would: conf validated against the DAG's params. Its
   * logical date is now, or a millisecond after the previous trigger's (one run per date).
   */
  async trigger(
    dagId: string, conf: Record<string, unknown> = {}, runId = `manual__${Date.now()}_${Math.random().toString(36).slice(2, 7)}`,
    options: { cacheForce?: string | null } = {},
  ): Promise<DagRun> {
    const dag = await this.repos.dags.get(dagId);
    if (!dag) throw new Error(`no DAG ${dagId}; import errors: ${JSON.stringify(await this.repos.dags.importErrors())}`);
    const version = await this.repos.dags.version(dagId, dag.latestVersion);
    this.lastLogicalDate = Math.max(Date.now(), this.lastLogicalDate + 1);
    const run = await this.repos.runs.create({
      dagId, runId, versionHash: dag.latestVersion, runType: 'manual', logicalDate: new Date(this.lastLogicalDate), conf,
      params: resolveParams(version.params, conf), cacheForce: options.cacheForce ?? null,
    });
    this.scheduler.runner.nudge();
    return run;
  }

  /** Waits until the run ends; returns its state and task instances by task id. */
  async waitForRun(run: DagRun, timeoutMs = 30_000): Promise<{ state: DagRunState; tis: Map<string, TaskInstance> }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.repos.runs.get(run.dagId, run.runId);
      if (now && (now.state === 'success' || now.state === 'failed')) {
        const tis = await this.repos.tis.forRuns([run.pk]);
        return { state: now.state, tis: new Map(tis.map((t) => [t.taskId, t])) };
      }
      if (Date.now() > deadline) {
        const tis = await this.repos.tis.forRuns([run.pk]);
        throw new Error(`run ${run.runId} still ${now?.state} after ${timeoutMs} ms: ${tis.map((t) => `${t.taskId}=${t.state}`).join(' ')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    for (const w of this.workers) await w.shutdown().catch(() => {});
    await this.scheduler?.stop();
    for (const b of this.brokers) await b.close().catch(() => {});
    await this.db.close();
    rmSync(this.folder, { recursive: true, force: true });
  }
}
