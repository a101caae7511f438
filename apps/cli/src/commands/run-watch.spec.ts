import type { RunDetailDto, TaskInstanceDto, TaskLogsDto } from '../api-client';
import { ApiConnectionError, ApiError } from '../api-client';
import { CliError } from '../errors';
import { describeFailures, describeProgress, followLogs, PER_TASK_LINES_UP_TO, watchRun } from './run-watch';

function ti(taskId: string, patch: Partial<TaskInstanceDto> = {}): TaskInstanceDto {
  return {
    taskId, state: 'none', tryNumber: 0, maxTries: 1, queue: 'default', pool: 'default_pool', worker: null, hostname: null,
    exitCode: null, reason: null, queuedAt: null, startedAt: null, endedAt: null, nextRetryAt: null, outputs: null, cachedFrom: null, ...patch,
  };
}

function run(state: RunDetailDto['state'], tis: TaskInstanceDto[]): RunDetailDto {
  return {
    dagId: 'etl', runId: 'r1', runType: 'manual', state, logicalDate: '2025-03-01T00:00:00.000Z', conf: {}, params: {},
    versionHash: 'v', createdAt: '2025-03-01T00:00:00.000Z', startedAt: null, endedAt: null, reason: null, cacheForce: null, taskInstances: tis, images: [],
  };
}

/** A clock that only moves when the code under test sleeps: no real waiting. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

describe('watchRun', () => {
  it('throws an error that is not transient at once (a 404 is not retried)', async () => {
    const time = fakeTime();
    const getRun = jest.fn(async () => { throw new ApiError(404, 'run_not_found', 'no run r1'); });
    await expect(watchRun({ getRun }, 'etl', 'r1', { timeoutMs: 60_000, print: () => undefined, ...time })).rejects.toThrow('no run r1');
    expect(getRun).toHaveBeenCalledTimes(1);
  });

  it('gives up at its deadline while the API is still out of reach, saying the run may go on', async () => {
    const time = fakeTime();
    const lines: string[] = [];
    const getRun = jest.fn(async () => { throw new ApiConnectionError('http://sf.test', 'connection refused'); });
    await expect(watchRun({ getRun }, 'etl', 'r1', { timeoutMs: 10_000, print: (l) => lines.push(l), ...time })).rejects.toThrow(
      new CliError('gave up waiting after 10s: the API did not answer the last 6 polls (connection refused), and run r1 of etl may still be going. Follow it with `swarmflow runs show etl r1`.'),
    );
    expect(lines).toEqual(['API not answering (connection refused): retrying until it does; the run goes on']);
    // 0.5 + 1 + 2 + 4 s, then what was left of the 10 s.
    expect(time.sleeps).toEqual([500, 1000, 2000, 4000, 2500]);
  });

  it('prints each task state change once and returns the finished run', async () => {
    const polls = [
      run('queued', []),
      run('running', [ti('extract'), ti('load')]),
      run('running', [ti('extract', { state: 'running', tryNumber: 1, worker: 'worker-a' }), ti('load')]),
      run('running', [ti('extract', { state: 'running', tryNumber: 1, worker: 'worker-a' }), ti('load')]),
      run('success', [ti('extract', { state: 'success', tryNumber: 1 }), ti('load', { state: 'success', tryNumber: 1 })]),
    ];
    const client = { getRun: jest.fn(async () => polls.shift()!) };
    const lines: string[] = [];
    const time = fakeTime();
    const done = await watchRun(client, 'etl', 'r1', { timeoutMs: 60_000, print: (l) => lines.push(l), ...time });
    expect(done.state).toBe('success');
    expect(lines).toEqual([
      'run r1: queued',
      'run r1: running',
      '  extract  running (try 1 on worker-a)',
      'run r1: success',
      '  extract  success (try 1)',
      '  load     success (try 1)',
    ]);
    expect(time.sleeps).toEqual([500, 500, 500, 500]);
  });

  /** A run of `n` tasks `t00…`: `state(i)` gives each one's state and try. */
  const big = (n: number, state: (i: number) => Partial<TaskInstanceDto>, runState: RunDetailDto['state'] = 'running') =>
    run(runState, Array.from({ length: n }, (_, i) => ti(`t${String(i).padStart(2, '0')}`, state(i))));

  it('prints failures, retries and throttled progress lines, not every change, for a run of more than 50 tasks', async () => {
    const n = PER_TASK_LINES_UP_TO + 1;
    // Poll k: the first 10k tasks succeeded, t05 failed its first try at poll 1 and succeeds on its second.
    const poll = (k: number, runState: RunDetailDto['state'] = 'running') => big(n, (i) => {
      if (i === 5 && k === 1) return { state: 'up_for_retry', tryNumber: 1, exitCode: 2 };
      if (i < 10 * k) return { state: 'success', tryNumber: i === 5 ? 2 : 1 };
      return i < 10 * k + 8 ? { state: 'running', tryNumber: 1, worker: 'w1' } : { state: 'queued', tryNumber: 1 };
    }, runState);
    const polls = [poll(0), poll(1), poll(2), ...Array.from({ length: 10 }, () => poll(2)), poll(3), big(n, () => ({ state: 'success', tryNumber: 1 }), 'success')];
    const client = { getRun: jest.fn(async () => polls.shift()!) };
    const lines: string[] = [];
    const time = fakeTime();
    await watchRun(client, 'etl', 'r1', { timeoutMs: 60_000, print: (l) => lines.push(l), ...time });
    expect(lines).toEqual([
      'run r1: running',
      '  0/51 ended · running 8 · queued 43',
      '  t05  up_for_retry (try 1, exit code 2)',
      // Polls 1 and 2 come 0.5 and 1 s after the first progress line: too soon for another.
      '  t05  success (try 2)',
      // Poll 2's counts, unchanged since, are printed by the poll 5 s after the first line.
      '  20/51 ended · success 20 · running 8 · queued 23',
      'run r1: success',
      '  51/51 ended · success 51',
    ]);
  });

  it('prints every change of a run of exactly 50 tasks', async () => {
    const polls = [big(PER_TASK_LINES_UP_TO, () => ({ state: 'queued', tryNumber: 1 })), big(PER_TASK_LINES_UP_TO, () => ({ state: 'success', tryNumber: 1 }), 'success')];
    const client = { getRun: jest.fn(async () => polls.shift()!) };
    const lines: string[] = [];
    await watchRun(client, 'etl', 'r1', { timeoutMs: 60_000, print: (l) => lines.push(l), ...fakeTime() });
    expect(lines.filter((l) => l.includes('queued (try 1'))).toHaveLength(50);
    expect(lines.filter((l) => l.includes('success (try 1)'))).toHaveLength(50);
    expect(lines.some((l) => l.includes(' ended'))).toBe(false);
  });

  it('prints a retry of a large run that no poll saw up_for_retry', async () => {
    const polls = [big(60, () => ({ state: 'running', tryNumber: 1 })), big(60, (i) => ({ state: 'running', tryNumber: i === 7 ? 2 : 1 })),
      big(60, () => ({ state: 'success', tryNumber: 1 }), 'success')];
    const client = { getRun: jest.fn(async () => polls.shift()!) };
    const lines: string[] = [];
    await watchRun(client, 'etl', 'r1', { timeoutMs: 60_000, print: (l) => lines.push(l), ...fakeTime() });
    expect(lines).toContain('  t07  running (try 2)');
  });

  it('repeats an unchanged progress line of a stuck run every minute, and prints the counts when it gives up', async () => {
    const client = { getRun: jest.fn(async () => big(60, (i) => (i < 30 ? { state: 'success', tryNumber: 1 } : { state: 'queued', tryNumber: 1 }))) };
    const lines: string[] = [];
    const time = fakeTime();
    const err = await watchRun(client, 'etl', 'r1', { timeoutMs: 150_000, print: (l) => lines.push(l), ...time }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    // At 0, 60 and 120 s; the counts did not change, so giving up at 150 s adds none.
    expect(lines.filter((l) => l === '  30/60 ended · success 30 · queued 30')).toHaveLength(3);
  });

  it('gives up after the timeout with exit code 1', async () => {
    const client = { getRun: jest.fn(async () => run('running', [ti('extract', { state: 'running', tryNumber: 1 })])) };
    const time = fakeTime();
    const err = await watchRun(client, 'etl', 'r1', { timeoutMs: 2000, print: () => undefined, ...time }).catch((e: unknown) => e);
    expect(err).toEqual(new CliError('gave up waiting after 2s: run r1 of etl is still running. Follow it with `swarmflow runs show etl r1`.', 1));
    expect(client.getRun).toHaveBeenCalledTimes(5);
  });
});

describe('describeProgress', () => {
  it('counts tasks per state, ended states first, and leaves zeros out', () => {
    const tis = [ti('a', { state: 'running' }), ti('b', { state: 'success' }), ti('c', { state: 'upstream_failed' }), ti('d', { state: 'success' }),
      ti('e', { state: 'up_for_retry' }), ti('f', { state: 'none' })];
    expect(describeProgress(tis)).toBe('  3/6 ended · success 2 · upstream_failed 1 · up_for_retry 1 · running 1 · none 1');
  });
});

describe('describeFailures', () => {
  it('lists failed tasks with exit code, reason and their last log lines', async () => {
    const pages: TaskLogsDto[] = [
      { tryNumber: 2, lines: Array.from({ length: 25 }, (_, i) => ({ at: '', stream: 'stdout' as const, line: `l${i + 1}` })), cursor: 3, finished: true },
      { tryNumber: 2, lines: [], cursor: 3, finished: true },
    ];
    const client = { readLogs: jest.fn(async () => pages.shift()!) };
    const failed = run('failed', [
      ti('extract', { state: 'failed', tryNumber: 2, exitCode: 3, reason: null, endedAt: '2025-03-01T00:01:00.000Z' }),
      ti('load', { state: 'upstream_failed' }),
    ]);
    const lines = await describeFailures(client, failed);
    expect(lines[0]).toBe('extract failed on try 2 with exit code 3 at 2025-03-01 00:01:00');
    expect(lines[1].split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => `  | l${i + 6}`));
    expect(lines.slice(2)).toEqual([
      '  full log: swarmflow tasks logs etl r1 extract --try 2',
      'not run because upstream tasks failed: load',
    ]);
    expect(client.readLogs).toHaveBeenNthCalledWith(2, 'etl', 'r1', 'extract', { tryNumber: 2, cursor: 3 });
  });
});

describe('followLogs', () => {
  const line = (text: string) => ({ at: '', stream: 'stdout' as const, line: text });

  it('polls with the cursor until the try is finished and drained, pinned to the first try', async () => {
    const pages: TaskLogsDto[] = [
      { tryNumber: 1, lines: [line('a')], cursor: 1, finished: false },
      { tryNumber: 1, lines: [], cursor: 1, finished: false },
      { tryNumber: 1, lines: [line('b')], cursor: 2, finished: true },
      { tryNumber: 1, lines: [], cursor: 2, finished: true },
    ];
    const client = { readLogs: jest.fn(async (..._args: unknown[]) => pages.shift()!) };
    const printed: string[] = [];
    const time = fakeTime();
    const result = await followLogs(client, { dagId: 'etl', runId: 'r1', taskId: 'extract' }, { follow: true, print: (l) => printed.push(l), sleep: time.sleep });
    expect(printed).toEqual(['a', 'b']);
    expect(result).toEqual({ tryNumber: 1, lines: 2 });
    expect(client.readLogs.mock.calls.map((c) => c[3])).toEqual([
      { tryNumber: undefined, cursor: 0 }, { tryNumber: 1, cursor: 1 }, { tryNumber: 1, cursor: 1 }, { tryNumber: 1, cursor: 2 },
    ]);
    expect(time.sleeps).toEqual([500]);
  });

  it('without --follow reads what is there and stops', async () => {
    const pages: TaskLogsDto[] = [
      { tryNumber: 3, lines: [line('x')], cursor: 5, finished: false },
      { tryNumber: 3, lines: [], cursor: 5, finished: false },
    ];
    const client = { readLogs: jest.fn(async () => pages.shift()!) };
    const printed: string[] = [];
    const time = fakeTime();
    await followLogs(client, { dagId: 'etl', runId: 'r1', taskId: 'extract' }, { tryNumber: 3, follow: false, print: (l) => printed.push(l), sleep: time.sleep });
    expect(printed).toEqual(['x']);
    expect(time.sleeps).toEqual([]);
  });
});
