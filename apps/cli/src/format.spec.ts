import { InvalidArgumentError } from 'commander';
import type { DagDetailDto, TaskInstanceDto, WorkerDto } from './api-client';
import {
  formatCacheTable, formatRunExtras, formatTaskInstanceDetail,
  describeTaskChange, formatDagDetail, formatDagsTable, formatDate, formatImportErrorSummary, formatWorkersTable, parseConf, parsePositiveInt, parseTimeout,
  formatDuration, formatQueuesTable, formatWorkerDetail,
} from './format';

function ti(patch: Partial<TaskInstanceDto>): TaskInstanceDto {
  return {
    taskId: 'train', state: 'none', tryNumber: 0, maxTries: 3, queue: 'default', pool: 'default_pool', worker: null,
    hostname: null, exitCode: null, reason: null, queuedAt: null, startedAt: null, endedAt: null, nextRetryAt: null, outputs: null, cachedFrom: null, ...patch,
  };
}

describe('option parsers', () => {
  it('reads --conf as a JSON object', () => {
    expect(parseConf('{"epochs": 5, "tags": ["a"]}')).toEqual({ epochs: 5, tags: ['a'] });
  });

  it('names --conf when the JSON is invalid', () => {
    expect(() => parseConf('{epochs: 5}')).toThrow(InvalidArgumentError);
    expect(() => parseConf('{epochs: 5}')).toThrow(/^--conf is not valid JSON \(.+\)\. Pass a JSON object in single quotes, e\.g\. --conf '\{"epochs": 5\}'\.$/);
  });

  it('rejects a --conf that is not an object', () => {
    expect(() => parseConf('[1]')).toThrow(`--conf must be a JSON object, e.g. --conf '{"epochs": 5}'.`);
    expect(() => parseConf('null')).toThrow('--conf must be a JSON object');
  });

  it('reads --timeout as a duration', () => {
    expect(parseTimeout('1h')).toBe(3_600_000);
    expect(parseTimeout('1h30m')).toBe(5_400_000);
    expect(parseTimeout('1500')).toBe(1500);
    expect(() => parseTimeout('soon')).toThrow('--timeout must be a duration such as 90s, 30m or 1h30m.');
    expect(() => parseTimeout('0s')).toThrow('--timeout must be a duration');
  });

  it('reads whole numbers of at least 1', () => {
    expect(parsePositiveInt('25')).toBe(25);
    for (const bad of ['0', '-1', '2.5', 'ten', '']) expect(() => parsePositiveInt(bad)).toThrow('must be a whole number of at least 1.');
  });
});

describe('formatting', () => {
  it('formats dates as UTC without milliseconds', () => {
    expect(formatDate('2025-03-01T12:00:00.000Z')).toBe('2025-03-01 12:00:00');
    expect(formatDate(null)).toBe('-');
  });

  it('lists DAGs as plain columns', () => {
    const text = formatDagsTable([
      { dagId: 'etl', fileloc: 'etl.yaml', isPaused: true, isActive: true, schedule: '0 2 * * *', latestVersion: 'abc', tags: [], description: null,
        lastRun: { runId: 'r1', state: 'failed', logicalDate: '2025-03-01T02:00:00.000Z' }, nextRun: null, importError: null },
      { dagId: 'adhoc', fileloc: 'adhoc.ts', isPaused: false, isActive: true, schedule: null, latestVersion: 'def', tags: [], description: null, lastRun: null, nextRun: null,
        importError: { message: 'adhoc.ts:3: Error: boom', at: '2025-03-01T02:00:00.000Z' } },
    ]);
    expect(text.split('\n')).toEqual([
      'DAG    PAUSED  SCHEDULE   LAST RUN                      FILE',
      'etl    yes     0 2 * * *  failed (2025-03-01 02:00:00)  etl.yaml',
      'adhoc  no      manual     -                             adhoc.ts (import error: last good version)',
    ]);
  });

  it('summarises import errors in one line', () => {
    expect(formatImportErrorSummary([])).toBeNull();
    expect(formatImportErrorSummary([{ fileloc: 'a.ts', message: 'x', at: '2025-01-01T00:00:00Z' }]))
      .toBe('1 DAG file failed to import; see `swarmflow dags errors`.');
  });

  it('shows a DAG with its tasks and params', () => {
    const dag: DagDetailDto = {
      dagId: 'etl', fileloc: 'etl.yaml', isPaused: false, isActive: true, schedule: null, latestVersion: '0123456789abcdef',
      tags: ['nightly'], description: 'Nightly ETL', lastRun: null, nextRun: null, importError: null, catchup: false, startDate: null,
      maxActiveRuns: 16, maxActiveTasks: 16,
      params: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' }, day: { type: 'string', description: 'YYYY-MM-DD' } },
      tasks: [
        { taskId: 'extract', kind: 'process', command: 'extract', env: {}, cwd: null, upstream: [], triggerRule: 'all_success', retries: 0,
          retryDelayMs: 0, retryBackoff: 'fixed', maxRetryDelayMs: 0, timeoutMs: null, queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: 99 },
        { taskId: 'load', kind: 'process', command: 'load', env: {}, cwd: null, upstream: ['extract'], triggerRule: 'all_done', retries: 3,
          retryDelayMs: 0, retryBackoff: 'fixed', maxRetryDelayMs: 0, timeoutMs: null, queue: 'gpu', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: 99 },
      ],
    };
    expect(formatDagDetail(dag).split('\n')).toEqual([
      'DAG          etl',
      'file         etl.yaml',
      'schedule     manual',
      'description  Nightly ETL',
      'tags         nightly',
      'version      0123456789ab',
      'last run     -',
      '',
      'Tasks',
      'TASK     UPSTREAM  QUEUE    RETRIES  TRIGGER RULE',
      'extract  -         default  0        all_success',
      'load     extract   gpu      3        all_done',
      '',
      'Params',
      'PARAM   TYPE                  DEFAULT     DESCRIPTION',
      'region  string ("eu" | "us")  "eu"        -',
      'day     string                (required)  YYYY-MM-DD',
    ]);
    const broken = formatDagDetail({ ...dag, importError: { message: 'etl.yaml:2: bad\nmore', at: '2025-03-01T02:00:00.000Z' } }).split('\n');
    expect(broken.slice(1, 4)).toEqual([
      'file         etl.yaml',
      'import error the file fails to import since 2025-03-01 02:00:00: this is its last good version (see `swarmflow dags errors`)',
      '             etl.yaml:2: bad',
    ]);
  });

  it.each<[Partial<TaskInstanceDto>, string]>([
    [{ state: 'queued', tryNumber: 1, queue: 'gpu' }, '  train  queued (try 1, queue gpu)'],
    [{ state: 'running', tryNumber: 1, worker: 'worker-a' }, '  train  running (try 1 on worker-a)'],
    [{ state: 'up_for_retry', tryNumber: 1, exitCode: 3, nextRetryAt: '2025-03-01T12:00:30.000Z' }, '  train  up_for_retry (try 1, exit code 3, retry at 2025-03-01 12:00:30)'],
    [{ state: 'failed', tryNumber: 2, reason: 'timeout' }, '  train  failed (try 2, timeout)'],
    [{ state: 'failed', tryNumber: 1, exitCode: 1, reason: 'exit code 1' }, '  train  failed (try 1, exit code 1)'],
    [{ state: 'success', tryNumber: 1 }, '  train  success (try 1)'],
    [{ state: 'upstream_failed', reason: 'trigger rule' }, '  train  upstream_failed (trigger rule)'],
  ])('describes a task change %p', (patch, line) => {
    expect(describeTaskChange(ti(patch))).toBe(line);
  });

  it('pads task names to align the states', () => {
    expect(describeTaskChange(ti({ state: 'scheduled' }), 8)).toBe('  train     scheduled');
  });
});

describe('formatWorkersTable', () => {
  const worker = (patch: Partial<WorkerDto>): WorkerDto => ({
    name: 'w', hostname: 'h', queues: ['default'], concurrency: 4, gpus: 0, state: 'active', running: [],
    firstSeenAt: '2025-03-01T11:00:00.000Z', lastHeartbeatAt: '2025-03-01T12:00:00.000Z', heartbeatAgeSeconds: 2,
    processed: 10, failed: 1, startedAt: '2025-03-01T11:00:00.000Z', uptimeSeconds: 3602, version: '0.1.0', unacked: {}, ...patch,
  });

  it('shows a lost worker running nothing, even when an older server sends its last list', () => {
    const running = [{ tiId: 1, tryNumber: 1 }, { tiId: 2, tryNumber: 1 }];
    expect(formatWorkersTable([
      worker({ name: 'busy', running }),
      worker({ name: 'gone', state: 'lost', running }),
    ]).split('\n')).toEqual([
      'WORKER  HOST  STATE   QUEUES   RUNNING  LAST HEARTBEAT',
      'busy    h     active  default  2/4      2025-03-01 12:00:00',
      'gone    h     lost    default  -        2025-03-01 12:00:00',
    ]);
  });

  it('shows one worker: state, version, slots, GPUs, tries processed and failed, uptime and heartbeat age', () => {
    expect(formatWorkerDetail(worker({ name: 'w1', state: 'draining', gpus: 2, running: [{ tiId: 7, tryNumber: 2 }], unacked: { default: 1 } })).split('\n')).toEqual([
      'name           w1',
      'hostname       h',
      'state          draining',
      'version        0.1.0',
      'queues         default',
      'slots          1 running of 4',
      'gpus           2',
      'processed      10',
      'failed         1',
      'unacked        default=1',
      'started        2025-03-01 11:00:00',
      'uptime         1h 00m 02s',
      'last heartbeat 2025-03-01 12:00:00 (2s ago)',
      'running tries  7/2',
    ]);
  });

  it('shows - for what an older server or worker does not report', () => {
    const old = { ...worker({}), processed: undefined, failed: undefined, startedAt: undefined, uptimeSeconds: undefined, version: undefined, unacked: undefined, heartbeatAgeSeconds: undefined } as unknown as WorkerDto;
    const lines = formatWorkerDetail(old).split('\n');
    expect(lines).toEqual(expect.arrayContaining(['version        -', 'processed      -', 'uptime         -', 'unacked        -', 'last heartbeat 2025-03-01 12:00:00']));
  });
});

describe('formatQueuesTable', () => {
  it('lists ready, unacked and consumers per topic, with the workers serving it and their state', () => {
    expect(formatQueuesTable([
      { queue: 'default', declared: true, ready: 3, unacked: 2, consumers: 1, workers: [{ name: 'w1', state: 'active' }, { name: 'w2', state: 'draining' }] },
      { queue: 'gpu', declared: false, ready: 0, unacked: 0, consumers: 0, workers: [] },
    ]).split('\n')).toEqual([
      'QUEUE               READY  UNACKED  CONSUMERS  WORKERS',
      'default             3      2        1          w1, w2 (draining)',
      'gpu (not declared)  0      0        0          -',
    ]);
    expect(formatQueuesTable([])).toMatch(/No task queues are known/);
  });

  it.each([[2.5, '2.5s'], [65, '1m 05s'], [3723, '1h 02m 03s']])('formats %p seconds as %p', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe('outputs, cached tries and image digests', () => {
  const run = {
    dagId: 'ml', runId: 'r2', runType: 'manual', state: 'success', logicalDate: '2025-03-01T00:00:00.000Z', conf: {}, params: {},
    versionHash: 'v', createdAt: '2025-03-01T00:00:00.000Z', startedAt: null, endedAt: null, cacheForce: '^train$',
    taskInstances: [
      ti({ taskId: 'prep', state: 'cached', outputs: { rows: 10 }, cachedFrom: { dagId: 'ml', runId: 'r1', taskId: 'prep', tryNumber: 1 } }),
      ti({ taskId: 'train', state: 'success', outputs: null }),
    ],
    images: [{ image: 'trainer:1', digest: 'sha256:abc' }],
  } as const;

  it('runs show: the cached source, outputs, the version set and the force pattern', () => {
    expect(formatRunExtras(run as never)).toEqual([
      'prep: cached from ml run r1 (prep try 1)',
      'outputs:', '  prep: {"rows":10}',
      'images (version set):', '  trainer:1 -> sha256:abc',
      'forced (cache not used): tasks matching /^train$/',
    ]);
  });

  it('tasks show: state, source, outputs and each try', () => {
    const detail = {
      ...ti({ taskId: 'train', state: 'success', tryNumber: 1, worker: 'w1', outputs: { model: 'm' } }), dagId: 'ml', runId: 'r2', history: [],
      tries: [{ tryNumber: 1, succeeded: true, outputs: { model: 'm' }, image: 'trainer:1', imageDigest: 'sha256:abc', cacheKey: 'k'.repeat(64), cachedFrom: null, at: '2025-03-01T00:00:00.000Z' }],
    };
    expect(formatTaskInstanceDetail(detail).split('\n').slice(1)).toEqual([
      'outputs: {"model":"m"}', `try 1: succeeded, image trainer:1 -> sha256:abc, cache key ${'k'.repeat(64)}`,
    ]);
  });

  it('tasks show: a cached task ran no try; one a worker confirmed ran nothing either', () => {
    const at = '2025-03-01T00:00:00.000Z';
    const source = { dagId: 'ml', runId: 'r1', taskId: 'prep', tryNumber: 1 };
    const cached = {
      ...ti({ taskId: 'prep', state: 'cached', tryNumber: 0, outputs: { rows: 10 }, cachedFrom: source }), dagId: 'ml', runId: 'r2',
      history: [{ tryNumber: 0, from: 'none', to: 'cached', reason: 'cached: …', at, worker: null, hostname: null, pid: null, exitCode: null }],
      tries: [{ tryNumber: 0, succeeded: true, outputs: { rows: 10 }, image: null, imageDigest: null, cacheKey: 'k', cachedFrom: { tiId: 7, tryNumber: 1 }, at }],
    };
    expect(formatTaskInstanceDetail(cached as never).split('\n').slice(1)).toEqual([
      'cached from: ml run r1 task prep try 1', 'outputs: {"rows":10}', 'no try ran: cached, cache key k',
    ]);
    const confirmed = {
      ...cached, ...ti({ taskId: 'prep', state: 'cached', tryNumber: 1, outputs: { rows: 10 }, cachedFrom: source }),
      history: [{ tryNumber: 1, from: 'queued', to: 'cached', reason: null, at, worker: null, hostname: null, pid: null, exitCode: null }],
      tries: [{ ...cached.tries[0], tryNumber: 1, image: 'trainer:1', imageDigest: 'sha256:abc' }],
    };
    expect(formatTaskInstanceDetail(confirmed as never).split('\n').slice(-1)).toEqual(['try 1: cached, nothing ran, image trainer:1 -> sha256:abc, cache key k']);
  });

  it("tasks show: every try with its exit code and worker, from its transitions (an earlier try's too)", () => {
    const at = '2025-03-01T00:00:00.000Z';
    const none = { worker: null, hostname: null, pid: null, exitCode: null };
    const detail = {
      ...ti({ taskId: 'train', state: 'success', tryNumber: 3, worker: 'w2', outputs: null }), dagId: 'ml', runId: 'r2',
      history: [
        // Try 1 ran before the transitions kept a try's worker and exit code.
        { tryNumber: 1, from: 'queued', to: 'running', reason: null, at },
        { tryNumber: 1, from: 'running', to: 'up_for_retry', reason: null, at },
        { tryNumber: 1, from: 'up_for_retry', to: 'scheduled', reason: null, at },
        { tryNumber: 2, from: 'scheduled', to: 'queued', reason: null, at, ...none },
        { tryNumber: 2, from: 'queued', to: 'running', reason: 'on w1', at, worker: 'w1', hostname: 'h1', pid: 5, exitCode: null },
        { tryNumber: 2, from: 'running', to: 'failed', reason: null, at, worker: 'w1', hostname: 'h1', pid: 5, exitCode: 3 },
        { tryNumber: 2, from: 'failed', to: 'none', reason: 'cleared by olga', at, ...none },
        { tryNumber: 2, from: 'none', to: 'scheduled', reason: null, at, ...none },
        { tryNumber: 3, from: 'scheduled', to: 'queued', reason: null, at, ...none },
        { tryNumber: 3, from: 'queued', to: 'running', reason: 'on w2', at, worker: 'w2', hostname: null, pid: null, exitCode: null },
        { tryNumber: 3, from: 'running', to: 'success', reason: null, at, worker: 'w2', hostname: null, pid: null, exitCode: 0 },
      ],
      tries: [{ tryNumber: 3, succeeded: true, outputs: null, image: null, imageDigest: null, cacheKey: 'k', cachedFrom: null, at }],
    };
    expect(formatTaskInstanceDetail(detail as never).split('\n').slice(1)).toEqual([
      'try 3: succeeded, exit code 0, on w2, cache key k',
      'try 2: failed, exit code 3, on w1 (h1)',
      'try 1: up_for_retry, exit code and worker not recorded (the try ran before this version of Swarmflow)',
    ]);
  });

  it('cache list', () => {
    expect(formatCacheTable([])).toBe('No cache entries.');
    expect(formatCacheTable([{ key: 'a'.repeat(64), dagId: 'ml', runId: 'r1', taskId: 'prep', tryNumber: 1, outputs: { rows: 10 }, imageDigest: null, createdAt: '2025-03-01T00:00:00.000Z' }]))
      .toContain('aaaaaaaaaaaa');
  });
});
