import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EVENTS_QUEUE, LOGS_QUEUE, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { randomBytes } from 'node:crypto';
import { createTestToken } from '../../apps/webserver/src/test-support/auth';
import { eventually, freePort, runCli, SwarmflowProcess } from '../support/processes';
import { itWithPrometheus, promtoolCheck, startPrometheus, type RunningPrometheus } from '../support/prometheus';

// Each process's /metrics, scraped as Prometheus would: the scheduler's and a worker's on
// SWARMFLOW_METRICS_PORT, the webserver's and standalone's on the API port. Every endpoint
// passes `promtool check metrics`, and a real Prometheus scrapes a standalone.

jest.setTimeout(180_000);

const OK_TASKS = 4;
const dag = (gate: string) => [
  'id: metered', 'defaults: { retries: 0 }', 'tasks:',
  ...Array.from({ length: OK_TASKS }, (_, i) => `  ok${i}: { shell: "true" }`),
  '  fails: { shell: "exit 3" }',
  // Holds a slot until the scrapes have seen it (the test then creates `gate`), and at least 4 s:
  // a plain `sleep 4` could end before a scrape on a loaded machine saw it run.
  `  slow: { shell: "sleep 4; while [ ! -e ${gate} ]; do sleep 0.1; done" }`,
].join('\n') + '\n';
// An unknown upstream: an import error.
const BROKEN = 'id: broken\ntasks:\n  a: { shell: "true", upstream: [nope] }\n';

async function scrape(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.text();
}

/** The value of one series in an exposition (labels in the order they are written), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Scrapes until `series` has a value that `accept` takes; returns that exposition. */
function scrapeUntil(url: string, series: string, accept: (v: number) => boolean, what: string): Promise<string> {
  return eventually(async () => {
    const text = await scrape(url);
    const v = sample(text, series);
    return v !== undefined && accept(v) ? text : undefined;
  }, 60_000, `${series} ${what} at ${url}`, 250);
}

describeWithPostgres('metrics endpoints (PostgreSQL)', () => {
  describeWithRabbitMQ('scheduler, worker and webserver processes expose Prometheus metrics', () => {
    let testDb: TestDatabase;
    let folder: string;
    let gate = '';
    let api: string;
    let schedulerMetrics: string;
    let workerMetrics: string;
    const procs: SwarmflowProcess[] = [];
    const prefix = `e2e-metrics-${process.pid}-${Date.now()}.`;
    let authorization = '';
    const urlIn = (proc: SwarmflowProcess) => /metrics on (http:\/\/\S+\/metrics)/.exec(proc.output)![1];

    beforeAll(async () => {
      testDb = await createTestDatabase();
      folder = mkdtempSync(path.join(tmpdir(), 'swarmflow-metrics-'));
      gate = path.join(mkdtempSync(path.join(tmpdir(), 'swarmflow-metrics-gate-')), 'slow-may-end');
      writeFileSync(path.join(folder, 'metered.yaml'), dag(gate));
      writeFileSync(path.join(folder, 'broken.yaml'), BROKEN);
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      const env = {
        SWARMFLOW_DATABASE_URL: testDb.url, SWARMFLOW_AMQP_URL: rabbitmqUrl(), SWARMFLOW_BROKER_PREFIX: prefix,
        SWARMFLOW_DAGS_FOLDER: folder, SWARMFLOW_HEARTBEAT_INTERVAL: '1s', SWARMFLOW_SCHEDULER_TICK: '200ms',
        SWARMFLOW_WEB_PORT: String(port), SWARMFLOW_WEB_HOST: '127.0.0.1',
        // Scheduler and workers share it: task messages are signed with it.
        SWARMFLOW_CLUSTER_KEY: randomBytes(32).toString('base64'),
      };
      // The webserver refuses to start without an admin; this test calls the API as one.
      const db = new Database({ url: testDb.url, poolSize: 1 });
      try {
        authorization = `Bearer ${await createTestToken(new Repositories(db))}`;
      } finally {
        await db.close();
      }
      // Port 0: each picks a free port and logs where it listens.
      const scheduler = new SwarmflowProcess('scheduler', ['scheduler'], { ...env, SWARMFLOW_METRICS_PORT: '0' });
      procs.push(scheduler);
      await scheduler.waitForOutput(/scheduler running.*metrics on http/);
      schedulerMetrics = urlIn(scheduler);
      const web = new SwarmflowProcess('webserver', ['webserver'], env);
      procs.push(web);
      await web.waitForOutput('REST API on');
      const worker = new SwarmflowProcess('worker', ['worker', '--name', 'w-metrics', '--concurrency', '4'], { ...env, SWARMFLOW_METRICS_PORT: '0' });
      procs.push(worker);
      await worker.waitForOutput(/metrics on http/);
      workerMetrics = urlIn(worker);
    });

    afterAll(async () => {
      if (gate) writeFileSync(gate, ''); // slow ends, whatever the test did
      await Promise.all(procs.map((p) => p.stop('SIGTERM').catch(() => undefined)));
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name, EVENTS_QUEUE.name, LOGS_QUEUE.name]);
      await testDb?.drop();
      if (folder) rmSync(folder, { recursive: true, force: true });
      if (gate) rmSync(path.dirname(gate), { recursive: true, force: true });
    });

    it('reports a run as it goes: slots taken, tries by outcome, latencies, cluster state, HTTP requests', async () => {
      expect(schedulerMetrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      // Before the run: the DAG processor has run, the broken file is an import error, the worker is idle.
      let s = await scrapeUntil(schedulerMetrics, 'swarmflow_dag_import_errors', (v) => v === 1, 'to be 1');
      expect(sample(s, 'swarmflow_dag_processing_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      let w = await scrape(workerMetrics);
      expect(sample(w, 'swarmflow_worker_slots{worker="w-metrics"}')).toBe(4);
      expect(sample(w, 'swarmflow_worker_running_tries{worker="w-metrics"}')).toBe(0);

      const res = await fetch(`${api}/api/v1/dags/metered/runs`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: '{}' });
      expect(res.status).toBe(201);
      const { runId } = (await res.json()) as { runId: string };

      // While `slow` runs: the worker holds a slot, the scheduler sees a running task instance.
      w = await scrapeUntil(workerMetrics, 'swarmflow_worker_running_tries{worker="w-metrics"}', (v) => v >= 1, 'to reach 1');
      expect(sample(w, 'swarmflow_worker_free_slots{worker="w-metrics"}')).toBeLessThanOrEqual(3);
      s = await scrapeUntil(schedulerMetrics, 'swarmflow_task_instances{state="running",queue="default"}', (v) => v >= 1, 'to reach 1');
      expect(sample(s, 'swarmflow_workers{state="active"}')).toBe(1);
      expect(sample(s, 'swarmflow_queue_consumers{queue="default"}')).toBe(1);
      expect(sample(s, 'swarmflow_metrics_source_up{source="broker"}')).toBe(1);
      writeFileSync(gate, ''); // seen: slow may end

      await eventually(async () => {
        const run = (await (await fetch(`${api}/api/v1/dags/metered/runs/${runId}`, { headers: { authorization } })).json()) as { state: string };
        return run.state === 'failed' ? run : undefined;
      }, 60_000, `run ${runId} to end (failed: one task exits 3)`, 250);

      // The counters count at once; the cluster gauges are read from the database at most once a second
      // (one snapshot for every gauge, reused by the scrapes within that second): wait for a scrape whose
      // snapshot was taken after slow's end too, then read the rest from it.
      const successes = 'swarmflow_task_tries_finished_total{queue="default",outcome="success"}';
      const running = 'swarmflow_task_instances{state="running",queue="default"}';
      s = await eventually(async () => {
        const text = await scrape(schedulerMetrics);
        return sample(text, successes) === OK_TASKS + 1 && sample(text, running) === undefined ? text : undefined;
      }, 60_000, `${successes} to reach ${OK_TASKS + 1} and ${running} to go at ${schedulerMetrics}`, 250);
      expect(sample(s, 'swarmflow_task_tries_finished_total{queue="default",outcome="failed"}')).toBe(1);
      expect(sample(s, 'swarmflow_task_run_duration_seconds_count{queue="default"}')).toBe(OK_TASKS + 2);
      // `slow` ran ~4 s: the sum of run times says so.
      expect(sample(s, 'swarmflow_task_run_duration_seconds_sum{queue="default"}')).toBeGreaterThanOrEqual(3.5);
      expect(sample(s, 'swarmflow_task_start_latency_seconds_count{queue="default"}')).toBe(OK_TASKS + 2);
      expect(sample(s, 'swarmflow_scheduler_tasks_queued_total')).toBe(OK_TASKS + 2);
      expect(sample(s, 'swarmflow_scheduler_events_applied_total')).toBeGreaterThanOrEqual(OK_TASKS + 2);
      expect(sample(s, 'swarmflow_scheduler_iteration_duration_seconds_count')).toBeGreaterThan(0);
      expect(sample(s, 'swarmflow_queue_depth{queue="default"}')).toBe(0);
      expect(sample(s, 'swarmflow_outbox_messages')).toBe(0);
      expect(sample(s, 'swarmflow_metrics_source_up{source="database"}')).toBe(1);
      w = await scrapeUntil(workerMetrics, 'swarmflow_worker_free_slots{worker="w-metrics"}', (v) => v === 4, 'to be 4 again');

      const web = await scrape(`${api}/metrics`);
      expect(sample(web, 'swarmflow_http_requests_total{method="POST",route="/api/v1/dags/:dagId/runs",status_class="2xx"}')).toBe(1);
      expect(sample(web, 'swarmflow_http_requests_total{method="GET",route="/api/v1/dags/:dagId/runs/:runId",status_class="2xx"}')).toBeGreaterThanOrEqual(1);
    });

    itWithPrometheus('promtool', 'every endpoint passes `promtool check metrics`', async () => {
      for (const [what, url] of [['scheduler', schedulerMetrics], ['worker', workerMetrics], ['webserver', `${api}/metrics`]]) {
        const text = await scrape(url);
        expect(text).toContain('swarmflow_');
        promtoolCheck(text, what);
      }
    });
  });
});

describe('standalone scraped by a real Prometheus', () => {
  let home: string;
  let server: SwarmflowProcess | null = null;
  let prometheus: RunningPrometheus | null = null;
  let api: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-metrics-home-'));
    const dags = path.join(home, 'dags');
    mkdirSync(dags);
    writeFileSync(path.join(dags, 'metered.yaml'), 'id: metered\ntasks:\n  a: { shell: "true" }\n  b: { shell: "true", upstream: [a] }\n');
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    env = { SWARMFLOW_HOME: home, SWARMFLOW_URL: '' };
    // Also on a metrics port of its own (any free one; the banner says which).
    server = new SwarmflowProcess('standalone', ['standalone', '--port', String(port), '--host', '127.0.0.1', '--dags', dags],
      { ...env, SWARMFLOW_METRICS_PORT: '0' });
    await server.waitForOutput('Swarmflow standalone is running', 60_000);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await server?.stop('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  });

  itWithPrometheus('promtool', 'its /metrics has every process\'s metrics in one registry and passes promtool', async () => {
    const run = await runCli(['dags', 'trigger', 'metered', '--wait'], env);
    expect(run.code).toBe(0);
    const text = await scrapeUntil(`${api}/metrics`, 'swarmflow_task_tries_finished_total{queue="default",outcome="success"}', (v) => v === 2, 'to reach 2');
    // Scheduler, worker and webserver metrics side by side.
    expect(sample(text, 'swarmflow_worker_slots{worker="' + /worker="([^"]+)"/.exec(text)![1] + '"}')).toBe(4);
    expect(sample(text, 'swarmflow_metrics_source_up{source="database"}')).toBe(1);
    expect(sample(text, 'swarmflow_queue_consumers{queue="default"}')).toBe(1);
    expect(text).toMatch(/swarmflow_http_requests_total\{method="POST",route="\/api\/v1\/dags\/:dagId\/runs",status_class="2xx"\} 1/);
    promtoolCheck(text, 'standalone');
    // The metrics port serves the same registry.
    const portUrl = /Metrics: +\S+\/metrics and (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(server!.output)![1];
    const fromPort = await scrape(portUrl);
    expect(sample(fromPort, 'swarmflow_task_tries_finished_total{queue="default",outcome="success"}')).toBe(2);
    promtoolCheck(fromPort, 'standalone metrics port');
  });

  itWithPrometheus('prometheus', 'a Prometheus server scrapes it and answers queries on swarmflow_ series', async () => {
    prometheus = await startPrometheus(new URL(api).host);
    const p = prometheus;
    const up = await eventually(async () => {
      const r = await p.query('up{job="swarmflow"}');
      return r.length > 0 && r[0].value[1] === '1' ? r : undefined;
    }, 60_000, 'Prometheus to scrape the standalone (up == 1)', 500);
    expect(up).toHaveLength(1);
    const tries = await eventually(async () => {
      const r = await p.query('swarmflow_task_tries_finished_total{outcome="success"}');
      return r.length > 0 ? r : undefined;
    }, 30_000, 'swarmflow_task_tries_finished_total in Prometheus', 500);
    expect(Number(tries[0].value[1])).toBeGreaterThanOrEqual(2);
    const names = await p.query('count by (__name__) ({__name__=~"swarmflow_.+"})');
    expect(names.map((r) => r.metric.__name__)).toEqual(expect.arrayContaining([
      'swarmflow_worker_free_slots', 'swarmflow_queue_depth', 'swarmflow_scheduler_iteration_duration_seconds_count', 'swarmflow_http_requests_total',
    ]));
  });
});
