import type { TaskMessage } from '@swarmflow/core';
import type { DagDetailDto } from './api-client';
import type { CliDeps } from './cli-context';
import { packageVersion, runCli } from './program';

/** In-memory deps; `fetch` answers from `routes` ("METHOD path" → [status, body]). */
function harness(routes: Record<string, [number, unknown]> = {}, extra: Partial<CliDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const requests: string[] = [];
  const fetchFn = jest.fn(async (url: string, init: RequestInit) => {
    const key = `${init.method} ${new URL(url).pathname.replace('/api/v1', '')}`;
    requests.push(key);
    const route = routes[key];
    if (!route) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return new Response(JSON.stringify(route[1]), { status: route[0] });
  });
  const deps: CliDeps = {
    stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: { SWARMFLOW_URL: 'http://sf.test:8080' },
    sleep: async () => undefined, now: () => new Date('2025-03-01T12:00:00.000Z'), fetch: fetchFn as unknown as typeof fetch,
    readFile: () => null, ...extra,
  };
  return { deps, out: () => out.join(''), err: () => err.join(''), requests };
}

const DAG: DagDetailDto = {
  dagId: 'etl', fileloc: 'etl.yaml', isPaused: false, isActive: true, schedule: null, latestVersion: 'v', tags: [], description: null,
  lastRun: null, nextRun: null, importError: null, catchup: false, startDate: null, maxActiveRuns: 16, maxActiveTasks: 16,
  params: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' } },
  tasks: [{
    taskId: 'extract', kind: 'process', command: 'extract --region {{ params.region }} --day {{ ds }}', env: { A: '1' }, cwd: null,
    upstream: [], triggerRule: 'all_success', retries: 0, retryDelayMs: 0, retryBackoff: 'fixed', maxRetryDelayMs: 0, timeoutMs: 60_000,
    queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: 99,
  }],
};

describe('runCli', () => {
  it('prints the help and exits 0', async () => {
    const h = harness();
    expect(await runCli(['--help'], h.deps)).toBe(0);
    expect(h.out()).toContain('Usage: swarmflow [options] [command]');
    expect(h.out()).toMatch(/dags\s+list, show, trigger and pause DAGs/);
  });

  it('prints the version of package.json', async () => {
    const h = harness();
    expect(await runCli(['--version'], h.deps)).toBe(0);
    expect(h.out()).toBe(`${packageVersion()}\n`);
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on a usage error', async () => {
    const h = harness();
    expect(await runCli(['dags', 'frobnicate'], h.deps)).toBe(2);
    expect(h.err()).toContain("error: unknown command 'frobnicate'");
    expect(await runCli(['runs', 'list', '--limit', '0'], h.deps)).toBe(2);
    expect(h.err()).toContain("option '--limit <n>' argument '0' is invalid. must be a whole number of at least 1.");
  });

  it('names --conf when it is not JSON, without calling the API', async () => {
    const h = harness();
    expect(await runCli(['dags', 'trigger', 'etl', '--conf', '{region: eu}'], h.deps)).toBe(2);
    expect(h.err()).toMatch(/--conf is not valid JSON/);
    expect(h.requests).toEqual([]);
  });

  it('prints one line and exits 2 when the API cannot be reached', async () => {
    const h = harness();
    expect(await runCli(['dags', 'list'], h.deps)).toBe(2);
    expect(h.err()).toBe('cannot reach the Swarmflow API at http://sf.test:8080 (connection refused). Start it with `npm start` or set SWARMFLOW_URL.\n');
  });

  it('prints the API\'s message: exit 2 for a 4xx, 1 for a 5xx', async () => {
    const h = harness({
      'POST /dags/etl/runs': [400, { reason: 'invalid_conf', field: 'conf.region', message: 'conf.region must be one of "eu", "us" (got "mars")' }],
      'GET /dags': [500, { reason: 'internal_error', message: 'internal server error; the server log has the details' }],
      'GET /import-errors': [200, []],
    });
    expect(await runCli(['dags', 'trigger', 'etl', '--conf', '{"region": "mars"}'], h.deps)).toBe(2);
    expect(await runCli(['dags', 'list'], h.deps)).toBe(1);
    expect(h.err()).toBe('conf.region must be one of "eu", "us" (got "mars")\ninternal server error; the server log has the details\n');
  });

  it('prints raw JSON with --json', async () => {
    const h = harness({ 'GET /workers': [200, []] });
    expect(await runCli(['workers', 'list', '--json'], h.deps)).toBe(0);
    expect(JSON.parse(h.out())).toEqual([]);
  });

  it('workers drain|shutdown|resume POST the command and print the answer; a 409 exits 2 with its message', async () => {
    const h = harness({
      'POST /workers/w1/drain': [202, { worker: 'w1', command: 'drain', state: 'active', message: 'drain sent to worker "w1" (it was active)' }],
      'POST /workers/w1/shutdown': [202, { worker: 'w1', command: 'shutdown', state: 'draining', message: 'shutdown sent to worker "w1" (it was draining)' }],
      'POST /workers/w2/resume': [409, { reason: 'worker_state', message: 'cannot resume worker "w2": it has stopped: start the worker process again' }],
    });
    expect(await runCli(['workers', 'drain', 'w1'], h.deps)).toBe(0);
    expect(await runCli(['workers', 'shutdown', 'w1'], h.deps)).toBe(0);
    expect(await runCli(['workers', 'resume', 'w2'], h.deps)).toBe(2);
    expect(h.requests).toEqual(['POST /workers/w1/drain', 'POST /workers/w1/shutdown', 'POST /workers/w2/resume']);
    expect(h.out()).toBe('drain sent to worker "w1" (it was active)\nshutdown sent to worker "w1" (it was draining)\n');
    expect(h.err()).toBe('cannot resume worker "w2": it has stopped: start the worker process again\n');
  });

  it('queues list and workers show read their routes', async () => {
    const h = harness({
      'GET /queues': [200, [{ queue: 'default', declared: true, ready: 4, unacked: 1, consumers: 2, workers: [] }]],
      'GET /workers/w1': [404, { reason: 'worker_not_found', message: 'worker "w1" is not known' }],
    });
    expect(await runCli(['queues', 'list'], h.deps)).toBe(0);
    expect(h.out()).toMatch(/^QUEUE\s+READY\s+UNACKED\s+CONSUMERS\s+WORKERS\ndefault\s+4\s+1\s+2\s+-\n$/);
    expect(await runCli(['workers', 'show', 'w1'], h.deps)).toBe(2);
    expect(h.err()).toBe('worker "w1" is not known\n');
  });

  describe('tasks test', () => {
    it('renders the command with the resolved params and exits with the task\'s exit code', async () => {
      const ran: TaskMessage[] = [];
      const h = harness({ 'GET /dags/etl': [200, DAG] }, {
        runTask: async (message, out) => {
          ran.push(message);
          out('extracting');
          return { exitCode: 4, outcome: 'failed' };
        },
      });
      expect(await runCli(['tasks', 'test', 'etl', 'extract', '--conf', '{"region": "us"}'], h.deps)).toBe(4);
      expect(ran).toEqual([{
        tiId: 0, dagId: 'etl', runId: 'test__2025-03-01T12:00:00.000Z', taskId: 'extract', tryNumber: 1, queue: 'default',
        command: 'extract --region us --day 2025-03-01', env: { A: '1' }, cwd: null, timeoutMs: 60_000, skipExitCode: 99, priority: 0,
      }]);
      expect(h.out()).toBe('extracting\n');
    });

    it('runs a container task in its container, with env and image templates rendered, and says which secrets it lacks', async () => {
      const docker = {
        image: 'trainer:{{ params.region }}', pullPolicy: 'if-not-present' as const, entrypoint: null, user: null, volumes: [{ source: '/data', target: '/data', readOnly: true }],
        network: 'none', labels: {}, registryCredentials: 'registry_login', cpus: 2, memoryBytes: null, gpus: 0, gpuMode: 'device-request' as const,
        runtime: null, autoRemove: true, secretsPath: '/secrets/variables',
      };
      const dag: DagDetailDto = {
        ...DAG,
        tasks: [{ ...DAG.tasks[0], taskId: 'train', kind: 'docker', command: ['train', '--region', '{{ params.region }}'], env: { DAY: '{{ ds }}' }, docker, secrets: ['s3_key'] }],
      };
      const ran: TaskMessage[] = [];
      const h = harness({ 'GET /dags/etl': [200, dag] }, { runTask: async (message) => { ran.push(message); return { exitCode: 0, outcome: 'success' }; } });
      expect(await runCli(['tasks', 'test', 'etl', 'train', '--conf', '{"region": "us"}'], h.deps)).toBe(0);
      expect(ran[0]).toMatchObject({
        kind: 'docker', command: ['train', '--region', 'us'], env: { DAY: '2025-03-01' },
        docker: { ...docker, image: 'trainer:us', registryCredentials: null },
      });
      expect(h.err()).toBe(
        'running etl.train locally in a container of trainer:us (nothing is recorded): ["train","--region","us"]\n' +
        'note: secret variables never reach the CLI; running without secret s3_key (/secrets/variables/s3_key will be missing), ' +
        'registry credentials registry_login (the image must be on this machine or public)\n',
      );
    });

    it('rejects a conf that does not match the params before running anything', async () => {
      const runTask = jest.fn();
      const h = harness({ 'GET /dags/etl': [200, DAG] }, { runTask });
      expect(await runCli(['tasks', 'test', 'etl', 'extract', '--conf', '{"region": "mars"}'], h.deps)).toBe(2);
      expect(h.err()).toMatch(/^conf\.region must be one of "eu", "us" \(got "mars"\)\. Fix: /);
      expect(runTask).not.toHaveBeenCalled();
    });

    it('names the tasks a DAG has when the task is unknown', async () => {
      const h = harness({ 'GET /dags/etl': [200, DAG] }, { runTask: jest.fn() });
      expect(await runCli(['tasks', 'test', 'etl', 'extrct'], h.deps)).toBe(2);
      expect(h.err()).toBe('DAG "etl" has no task "extrct". Its tasks are extract.\n');
    });
  });
});
