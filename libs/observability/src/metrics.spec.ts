import { Histogram, Registry } from 'prom-client';
import { SwarmflowMetrics, processMetrics, statusClass, type ClusterSnapshot } from './metrics';

/** The value of one series from the registry, or undefined when absent. */
async function value(m: SwarmflowMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((v) => (v as { metricName?: string }).metricName === undefined || (v as { metricName?: string }).metricName === name
    ? Object.entries(labels).every(([k, want]) => v.labels[k] === want) && Object.keys(v.labels).length === Object.keys(labels).length
    : false);
  return found?.value;
}

const SNAPSHOT: ClusterSnapshot = {
  database: {
    taskInstances: [{ state: 'queued', queue: 'default', count: 3 }, { state: 'running', queue: 'gpu', count: 1 }],
    workers: [{ state: 'active', count: 2 }, { state: 'lost', count: 1 }],
    outboxBacklog: 5,
    importErrors: 1,
  },
  queues: [{ queue: 'default', ready: 7, consumers: 2 }],
};

describe('SwarmflowMetrics', () => {
  it('names every metric by the Prometheus conventions: prefix, units, _total counters, bounded labels', async () => {
    const m = new SwarmflowMetrics();
    const all = await m.registry.getMetricsAsJSON();
    expect(all.length).toBeGreaterThanOrEqual(19);
    const allowedLabels = new Set(['queue', 'state', 'outcome', 'source', 'worker', 'method', 'route', 'status_class', 'group', 'action']);
    for (const metric of all) {
      expect(metric.name).toMatch(/^swarmflow_[a-z0-9_]+$/);
      if (String(metric.type) === 'counter') expect(metric.name).toMatch(/_total$/);
      else expect(metric.name).not.toMatch(/_total$/);
      if (String(metric.type) === 'histogram') expect(metric.name).toMatch(/_seconds$/);
      const labelNames = (m.registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames;
      for (const label of labelNames) expect(allowedLabels).toContain(label);
      expect(metric.help.length).toBeGreaterThan(10);
    }
    expect(all.map((x) => x.name)).toEqual(expect.arrayContaining([
      'swarmflow_task_instances', 'swarmflow_task_tries_finished_total', 'swarmflow_task_run_duration_seconds',
      'swarmflow_task_start_latency_seconds', 'swarmflow_queue_depth', 'swarmflow_queue_consumers', 'swarmflow_workers',
      'swarmflow_worker_running_tries', 'swarmflow_worker_free_slots', 'swarmflow_scheduler_iteration_duration_seconds',
      'swarmflow_scheduler_events_applied_total', 'swarmflow_outbox_messages', 'swarmflow_dag_processing_duration_seconds',
      'swarmflow_dag_import_errors', 'swarmflow_http_requests_total', 'swarmflow_task_logs_archived_total', 'swarmflow_task_logs_pruned_total',
      'swarmflow_autoscaler_desired_replicas', 'swarmflow_autoscaler_decisions_total', 'swarmflow_autoscaler_leader',
    ]));
  });

  it('hands hot-path counts and observations to prom-client when scraped', async () => {
    const m = new SwarmflowMetrics();
    const ok = m.tryFinished.get('default', 'success');
    expect(m.tryFinished.get('default', 'success')).toBe(ok); // bound once, found again without building a key
    ok.inc();
    ok.inc();
    m.tryFinished.get('gpu', 'failed').inc();
    m.tryDuration.labels('default').observe(0.2);
    m.eventsApplied.inc(40);
    expect(await value(m, 'swarmflow_task_tries_finished_total', { queue: 'default', outcome: 'success' })).toBe(2);
    expect(await value(m, 'swarmflow_task_tries_finished_total', { queue: 'gpu', outcome: 'failed' })).toBe(1);
    expect(await value(m, 'swarmflow_scheduler_events_applied_total')).toBe(40);
    const text = (await m.exposition()).body;
    expect(text).toContain('swarmflow_task_run_duration_seconds_count{queue="default"} 1');
    expect(text).toContain('swarmflow_task_run_duration_seconds_bucket{queue="default",le="0.5"} 1');
    // Flushed once: a second scrape does not count them again.
    expect(await value(m, 'swarmflow_task_tries_finished_total', { queue: 'default', outcome: 'success' })).toBe(2);
  });

  it('exposes its cell histograms exactly as prom-client exposes a Histogram of the same observations', async () => {
    const m = new SwarmflowMetrics();
    const referenceRegistry = new Registry();
    const reference = new Histogram({
      name: 'reference_seconds', help: 'h', labelNames: ['queue'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers: [referenceRegistry],
    });
    const observations = [0, 0.004, 0.005, 0.0051, 0.3, 2, 2, 59.9, 1800, 1800.5, 99999];
    for (const v of observations) {
      m.startLatency.labels('gpu').observe(v);
      reference.observe({ queue: 'gpu' }, v);
    }
    const ours = (await m.exposition()).body.split('\n').filter((l) => l.startsWith('swarmflow_task_start_latency_seconds_'));
    const theirs = (await referenceRegistry.metrics()).split('\n').filter((l) => l.startsWith('reference_seconds_'))
      // prom-client writes `le` first; ours writes it last, as Go's client does.
      .map((l) => l.replace('reference_seconds', 'swarmflow_task_start_latency_seconds').replace(/\{le="([^"]+)",queue="gpu"\}/, '{queue="gpu",le="$1"}'));
    expect(ours).toEqual(theirs);
    expect(ours).toContain('swarmflow_task_start_latency_seconds_count{queue="gpu"} 11');
    m.registry.resetMetrics();
    expect((await m.exposition()).body).toContain('swarmflow_task_start_latency_seconds_count{queue="gpu"} 0');
  });

  it('reads the cluster gauges from one snapshot per scrape', async () => {
    const m = new SwarmflowMetrics();
    let reads = 0;
    const read = async () => {
      reads++;
      return SNAPSHOT;
    };
    m.setClusterSource(read);
    const text = (await m.exposition()).body;
    expect(reads).toBe(1);
    expect(text).toContain('swarmflow_task_instances{state="queued",queue="default"} 3');
    expect(text).toContain('swarmflow_workers{state="lost"} 1');
    expect(text).toContain('swarmflow_outbox_messages 5');
    expect(text).toContain('swarmflow_dag_import_errors 1');
    expect(text).toContain('swarmflow_queue_depth{queue="default"} 7');
    expect(text).toContain('swarmflow_queue_consumers{queue="default"} 2');
    expect(text).toContain('swarmflow_metrics_source_up{source="broker"} 1');
    m.unsetClusterSource(read);
    const after = (await m.exposition()).body;
    expect(after).not.toContain('swarmflow_task_instances{');
  });

  it('says which source failed and keeps the rest of the scrape', async () => {
    const m = new SwarmflowMetrics();
    m.setClusterSource(async () => ({ database: SNAPSHOT.database, queues: null }));
    let text = (await m.exposition()).body;
    expect(text).toContain('swarmflow_metrics_source_up{source="broker"} 0');
    expect(text).toContain('swarmflow_metrics_source_up{source="database"} 1');
    expect(text).not.toContain('swarmflow_queue_depth{');
    const m2 = new SwarmflowMetrics();
    m2.setClusterSource(() => Promise.reject(new Error('connection refused')));
    text = (await m2.exposition()).body;
    expect(text).toContain('swarmflow_metrics_source_up{source="database"} 0');
  });

  it('reports each tracked worker by name until it is untracked', async () => {
    const m = new SwarmflowMetrics();
    let running = 3;
    const w = { name: 'w1', slots: 4, running: () => running };
    m.trackWorker(w);
    expect(await value(m, 'swarmflow_worker_running_tries', { worker: 'w1' })).toBe(3);
    expect(await value(m, 'swarmflow_worker_free_slots', { worker: 'w1' })).toBe(1);
    running = 0;
    expect(await value(m, 'swarmflow_worker_free_slots', { worker: 'w1' })).toBe(4);
    m.untrackWorker(w);
    expect(await value(m, 'swarmflow_worker_slots', { worker: 'w1' })).toBeUndefined();
  });

  it('adds Node process metrics once, when asked', async () => {
    const m = new SwarmflowMetrics();
    expect((await m.exposition()).body).not.toContain('process_cpu_seconds_total');
    m.enableDefaultMetrics();
    m.enableDefaultMetrics();
    const text = (await m.exposition()).body;
    expect(text).toContain('process_cpu_seconds_total');
    // Only counters end in _total (promtool check metrics).
    expect(text).not.toMatch(/^# TYPE \S+_total (gauge|histogram|summary)$/m);
  });

  it('has one instance per process', () => {
    expect(processMetrics()).toBe(processMetrics());
  });

  it('groups HTTP statuses by class', () => {
    expect([200, 204, 301, 404, 503, 42].map(statusClass)).toEqual(['2xx', '2xx', '3xx', '4xx', '5xx', 'other']);
  });
});
