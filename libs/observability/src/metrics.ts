import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CellHistogram, CellTable, CounterCell, type HistogramCell } from './cells';

/*
 * Every Swarmflow metric, defined here and nowhere else. Conventions (prometheus.io,
 * "Metric and label naming"): the `swarmflow_` prefix, base units in the name (`_seconds`),
 * `_total` on counters, and label values from small sets only: queue (a task topic),
 * state, outcome, route template, status class, worker name (one per worker), instance group
 * and autoscaler action. Never an id.
 *
 * Which process exports what:
 * - scheduler: task tries finished, run duration, start latency, iterations, events applied,
 *   DAG processing; and the cluster's state read at scrape time (task instances, workers,
 *   outbox backlog, import errors, queue depth and consumers);
 * - worker: its running tries and free slots;
 * - webserver: HTTP requests;
 * - autoscaler: desired and current replicas per group, decisions, whether it leads;
 * - standalone: all of them, in its one registry, at the webserver's `/metrics`.
 */

/** How a try ended, as the scheduler recorded it. */
export const TRY_OUTCOMES = ['success', 'failed', 'up_for_retry'] as const;
export type TryOutcome = (typeof TRY_OUTCOMES)[number];

/** Task instance states the `swarmflow_task_instances` gauge counts: the unfinished ones (ended tries are counted by `swarmflow_task_tries_finished_total`). */
export const UNFINISHED_TI_STATES = ['none', 'scheduled', 'queued', 'running', 'up_for_retry'] as const;

/** What the scheduler reads at scrape time: one database round trip and one passive declare per queue topic. */
export interface ClusterSnapshot {
  /** Null when the database could not be read (`swarmflow_metrics_source_up{source="database"}` is 0). */
  database: {
    taskInstances: { state: string; queue: string; count: number }[];
    workers: { state: string; count: number }[];
    outboxBacklog: number;
    importErrors: number;
  } | null;
  /** Null when the broker could not be asked (`swarmflow_metrics_source_up{source="broker"}` is 0). */
  queues: { queue: string; ready: number; consumers: number }[] | null;
}

/** A running worker as its gauges see it. */
export interface WorkerGaugeSource {
  readonly name: string;
  readonly slots: number;
  running(): number;
}

const SECONDS = { taskRun: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600],
  startLatency: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  iteration: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  dagProcessing: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] };

/** A snapshot read at most once per scrape, however many gauges ask for it. */
const SNAPSHOT_REUSE_MS = 1000;

/**
 * The metrics of one process, over one registry. Use {@link processMetrics} in the apps;
 * a fresh instance only in tests.
 */
export class SwarmflowMetrics {
  readonly registry = new Registry();
  private defaultsOn = false;
  private cluster: (() => Promise<ClusterSnapshot>) | null = null;
  private lastSnapshot: { at: number; value: Promise<ClusterSnapshot> } | null = null;
  private readonly workers = new Set<WorkerGaugeSource>();

  // --- scheduler: recorded as it applies events ----------------------------------------------

  readonly tryFinished: CellTable<CounterCell>;
  readonly tryDuration: CellHistogram;
  readonly startLatency: CellHistogram;
  readonly schedulerIteration: HistogramCell;
  readonly eventsApplied: CounterCell;
  readonly tasksQueued: CounterCell;
  readonly dagProcessing: Histogram<string>;

  // --- webserver ------------------------------------------------------------------------------

  readonly httpRequests: Counter<'method' | 'route' | 'status_class'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  /** Tries whose log remote logging archived (`archived`) or could not upload (`failed`, tried again). */
  readonly logsArchived: Counter<'outcome'>;
  /** Archived tries whose database log rows the retention deleted. */
  readonly logsPruned: Counter<string>;

  // --- autoscaler -----------------------------------------------------------------------------

  /** Replicas each instance group should have, as last decided. */
  readonly autoscalerDesired: Gauge<'group'>;
  /** Replicas each group had when last observed. */
  readonly autoscalerCurrent: Gauge<'group'>;
  /** Decisions by group and action (up, down, hold, drain). */
  readonly autoscalerDecisions: Counter<'group' | 'action'>;
  /** 1 while this autoscaler holds the leader lock. */
  readonly autoscalerLeader: Gauge<string>;

  constructor() {
    const registers = [this.registry];
    const tryFinished = new Counter({
      name: 'swarmflow_task_tries_finished_total', help: 'Task tries that ended, by queue and outcome (success, failed, up_for_retry), as the scheduler applied them.',
      labelNames: ['queue', 'outcome'], registers, collect: () => this.tryFinished.flush(),
    });
    this.tryFinished = new CellTable(['queue', 'outcome'], (labels) => new CounterCell(tryFinished, labels));
    this.tryDuration = new CellHistogram('swarmflow_task_run_duration_seconds', 'How long ended task tries ran (started to ended), by queue.',
      ['queue'], SECONDS.taskRun, this.registry);
    this.startLatency = new CellHistogram('swarmflow_task_start_latency_seconds', 'Time from a try being queued to it starting on a worker, by queue.',
      ['queue'], SECONDS.startLatency, this.registry);
    this.schedulerIteration = new CellHistogram('swarmflow_scheduler_iteration_duration_seconds',
      'Duration of scheduling iterations (apply events, evaluate runs, dispatch, commit).', [], SECONDS.iteration, this.registry).labels();
    const eventsApplied = new Counter({
      name: 'swarmflow_scheduler_events_applied_total', help: 'Worker events (task started, finished, heartbeats) the scheduler applied.',
      registers, collect: () => this.eventsApplied.flush(),
    });
    this.eventsApplied = new CounterCell(eventsApplied, {});
    const tasksQueued = new Counter({
      name: 'swarmflow_scheduler_tasks_queued_total', help: 'Task tries the scheduler queued (committed to the outbox for a worker).',
      registers, collect: () => this.tasksQueued.flush(),
    });
    this.tasksQueued = new CounterCell(tasksQueued, {});
    this.dagProcessing = new Histogram({
      name: 'swarmflow_dag_processing_duration_seconds', help: 'Duration of a pass of the DAG processor over the DAGs folder that parsed files.',
      buckets: SECONDS.dagProcessing, registers,
    });

    // --- scheduler: the cluster's state, read at scrape time -----------------------------------
    const cluster = () => this.snapshot();
    const sourceUp = new Gauge({
      name: 'swarmflow_metrics_source_up', help: 'Whether the last scrape could read the source of the cluster gauges (database, broker): 1 yes, 0 no.',
      labelNames: ['source'], registers,
      async collect() {
        const s = await cluster();
        if (!s) return this.reset();
        this.set({ source: 'database' }, s.database ? 1 : 0);
        this.set({ source: 'broker' }, s.queues ? 1 : 0);
      },
    });
    void sourceUp;
    new Gauge({
      name: 'swarmflow_task_instances', help: 'Task instances in an unfinished state (none, scheduled, queued, running, up_for_retry), by state and queue.',
      labelNames: ['state', 'queue'], registers,
      async collect() {
        const db = (await cluster())?.database;
        this.reset();
        for (const r of db?.taskInstances ?? []) this.set({ state: r.state, queue: r.queue }, r.count);
      },
    });
    new Gauge({
      name: 'swarmflow_workers', help: 'Workers known from their heartbeats, by state (active, draining, stopped, lost).',
      labelNames: ['state'], registers,
      async collect() {
        const db = (await cluster())?.database;
        this.reset();
        for (const r of db?.workers ?? []) this.set({ state: r.state }, r.count);
      },
    });
    new Gauge({
      name: 'swarmflow_outbox_messages', help: 'Messages committed to the outbox and not yet confirmed by the broker (the publish backlog).',
      registers,
      async collect() {
        const db = (await cluster())?.database;
        this.reset();
        if (db) this.set(db.outboxBacklog);
      },
    });
    new Gauge({
      name: 'swarmflow_dag_import_errors', help: 'DAG files that failed to import at their last parse.',
      registers,
      async collect() {
        const db = (await cluster())?.database;
        this.reset();
        if (db) this.set(db.importErrors);
      },
    });
    new Gauge({
      name: 'swarmflow_queue_depth', help: 'Task messages ready in a queue topic (not yet delivered to a worker).',
      labelNames: ['queue'], registers,
      async collect() {
        const queues = (await cluster())?.queues;
        this.reset();
        for (const q of queues ?? []) this.set({ queue: q.queue }, q.ready);
      },
    });
    new Gauge({
      name: 'swarmflow_queue_consumers', help: 'Worker consumers of a queue topic.',
      labelNames: ['queue'], registers,
      async collect() {
        const queues = (await cluster())?.queues;
        this.reset();
        for (const q of queues ?? []) this.set({ queue: q.queue }, q.consumers);
      },
    });

    // --- worker -----------------------------------------------------------------------------
    const workers = this.workers;
    new Gauge({
      name: 'swarmflow_worker_running_tries', help: 'Task tries holding a slot of this worker.',
      labelNames: ['worker'], registers,
      collect() {
        this.reset();
        for (const w of workers) this.set({ worker: w.name }, w.running());
      },
    });
    new Gauge({
      name: 'swarmflow_worker_free_slots', help: 'Slots of this worker free for another task try.',
      labelNames: ['worker'], registers,
      collect() {
        this.reset();
        for (const w of workers) this.set({ worker: w.name }, Math.max(0, w.slots - w.running()));
      },
    });
    new Gauge({
      name: 'swarmflow_worker_slots', help: 'Slots (concurrency) of this worker.',
      labelNames: ['worker'], registers,
      collect() {
        this.reset();
        for (const w of workers) this.set({ worker: w.name }, w.slots);
      },
    });

    // --- webserver --------------------------------------------------------------------------
    this.httpRequests = new Counter({
      name: 'swarmflow_http_requests_total', help: 'HTTP requests answered, by method, route template and status class (2xx, 4xx, …).',
      labelNames: ['method', 'route', 'status_class'], registers,
    });
    this.httpDuration = new Histogram({
      name: 'swarmflow_http_request_duration_seconds', help: 'Time to answer HTTP requests, by method, route template and status class.',
      labelNames: ['method', 'route', 'status_class'], buckets: SECONDS.http, registers,
    });
    this.logsArchived = new Counter({
      name: 'swarmflow_task_logs_archived_total', help: 'Task tries whose log was uploaded to the artefacts store (archived), or could not be (failed: tried again).',
      labelNames: ['outcome'], registers,
    });
    this.logsPruned = new Counter({
      name: 'swarmflow_task_logs_pruned_total', help: 'Archived task tries whose database log rows SWARMFLOW_LOG_RETENTION deleted.', registers,
    });

    // --- autoscaler -------------------------------------------------------------------------
    this.autoscalerDesired = new Gauge({
      name: 'swarmflow_autoscaler_desired_replicas', help: 'Replicas the autoscaler last decided an instance group should have.', labelNames: ['group'], registers,
    });
    this.autoscalerCurrent = new Gauge({
      name: 'swarmflow_autoscaler_current_replicas', help: 'Replicas an instance group had at the autoscaler\'s last look.', labelNames: ['group'], registers,
    });
    this.autoscalerDecisions = new Counter({
      name: 'swarmflow_autoscaler_decisions_total', help: 'Autoscaler decisions, by instance group and action (up, down, hold, drain).', labelNames: ['group', 'action'], registers,
    });
    this.autoscalerLeader = new Gauge({
      name: 'swarmflow_autoscaler_leader', help: '1 while this autoscaler holds the leader lock and acts, 0 while it waits.', registers,
    });
  }

  /**
   * Node's process metrics (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …),
   * turned on by whatever serves this registry (they sample the event loop).
   */
  enableDefaultMetrics(): void {
    if (this.defaultsOn) return;
    this.defaultsOn = true;
    collectDefaultMetrics({ register: this.registry });
    // Gauges that prom-client names `_total`, which `promtool check metrics` rejects; their
    // per-type counterparts (`nodejs_active_handles{type=…}`, …) stay, and sum to the same.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /**
   * Where the cluster gauges come from (the scheduler). The last one set wins; `unset` with
   * the same function removes it. Without one, those gauges have no series.
   */
  setClusterSource(read: () => Promise<ClusterSnapshot>): void {
    this.cluster = read;
    this.lastSnapshot = null;
  }

  unsetClusterSource(read: () => Promise<ClusterSnapshot>): void {
    if (this.cluster === read) {
      this.cluster = null;
      this.lastSnapshot = null;
    }
  }

  /** Adds a worker's gauges until `untrack`. */
  trackWorker(worker: WorkerGaugeSource): void {
    this.workers.add(worker);
  }

  untrackWorker(worker: WorkerGaugeSource): void {
    this.workers.delete(worker);
  }

  /** The registry's text exposition format (what `/metrics` answers). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private snapshot(): Promise<ClusterSnapshot> | null {
    const read = this.cluster;
    if (!read) return null;
    const now = Date.now();
    if (this.lastSnapshot && now - this.lastSnapshot.at < SNAPSHOT_REUSE_MS) return this.lastSnapshot.value;
    const value = read().catch((): ClusterSnapshot => ({ database: null, queues: null }));
    this.lastSnapshot = { at: now, value };
    return value;
  }
}

let current: SwarmflowMetrics | null = null;

/** The metrics of this process: one registry, created on first use. */
export function processMetrics(): SwarmflowMetrics {
  return (current ??= new SwarmflowMetrics());
}

/** `2xx`, `4xx`, … for an HTTP status code. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}
