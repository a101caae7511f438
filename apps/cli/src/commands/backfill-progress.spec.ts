import { PassThrough } from 'node:stream';
import type { BackfillDto } from '../api-client';
import type { CliDeps, ProgressStream } from '../cli-context';
import { runCli } from '../program';
import { backfillEta } from './backfill.commands';

// `dags backfill` follows its backfill: on a terminal a progress bar (runs ended of all, by
// state, and an ETA), otherwise a plain line per change. The API is a fake fetch whose
// backfill gains one succeeded run per poll; the clock is jest's, moved by the CLI's sleeps,
// so the ETA is exact: one run per second, so many runs left, so many seconds.

const T0 = Date.parse('2025-03-01T12:00:00Z');

function backfill(success: number, running: number): BackfillDto {
  const dates = [1, 2, 3].map((d, i) => ({
    logicalDate: `2025-02-0${d}T00:00:00.000Z`, action: 'create' as const, runId: `backfill__2025-02-0${d}`, rerun: [],
    state: i < success ? 'success' as const : i < success + running ? 'running' as const : 'queued' as const,
  }));
  return {
    id: 7, dagId: 'etl', from: '2025-02-01T00:00:00.000Z', to: '2025-02-03T00:00:00.000Z', tasks: null, ignoreDependencies: false,
    rerunFailed: false, maxActiveRuns: 1, state: success === 3 ? 'success' : 'running', dryRun: false, resumed: false,
    selectedTasks: ['extract', 'load'], removedTasks: [],
    counts: { queued: 3 - success - running, running, success, failed: 0 }, createdAt: '2025-03-01T12:00:00.000Z', dates,
  };
}

/** The API: the backfill is created with no run ended; each poll finds one more succeeded. */
function fakeApi(): { fetch: typeof fetch; polls: () => number } {
  let polls = 0;
  const answer = (status: number, body: unknown) => ({ ok: status < 400, status, text: async () => JSON.stringify(body) }) as Response;
  const fetchFn = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url).replace(/^http:\/\/api\.test\/api\/v1/, '');
    if (init?.method === 'POST' && path === '/dags/etl/backfills') return answer(201, backfill(0, 1));
    if (init?.method === 'GET' && path === '/dags/etl/backfills/7') {
      polls++;
      return answer(200, backfill(Math.min(polls, 3), polls < 3 ? 1 : 0));
    }
    return answer(404, { reason: 'not_found', message: `${init?.method} ${path}` });
  }) as typeof fetch;
  return { fetch: fetchFn, polls: () => polls };
}

async function backfillWith(stream: ProgressStream): Promise<{ code: number; out: string; err: string; polls: number }> {
  const api = fakeApi();
  let out = '';
  let err = '';
  const deps: CliDeps = {
    stdout: (s) => { out += s; }, stderr: (s) => { err += s; },
    env: { SWARMFLOW_URL: 'http://api.test', SWARMFLOW_TOKEN: 'sfw_test' },
    // Time passes only while the CLI sleeps between polls; the bar's redraw timers fire on the way.
    sleep: async (ms) => { jest.advanceTimersByTime(ms); },
    now: () => new Date(),
    readFile: () => null,
    fetch: api.fetch,
    progressStream: stream,
    onInterrupt: () => () => {},
  };
  const code = await runCli(['dags', 'backfill', 'etl', '--from', '2025-02-01', '--to', '2025-02-03'], deps);
  return { code, out, err, polls: api.polls() };
}

/** A stream that keeps what is written to it; `isTTY` says whether it poses as a terminal. */
function captured(isTTY: boolean): { stream: ProgressStream; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 160 });
  let text = '';
  stream.on('data', (d: Buffer) => { text += d.toString(); });
  return { stream, text: () => text };
}

describe('backfillEta', () => {
  const at = new Date(T0);
  it('is unknown until a run ends while followed, then the pace of those runs times the runs left', () => {
    expect(backfillEta(2, 10, { ended: 2, at }, new Date(T0 + 30_000))).toBe('--');
    expect(backfillEta(3, 10, { ended: 2, at }, new Date(T0 + 65_000))).toBe('7m 35s');
    expect(backfillEta(10, 10, { ended: 2, at }, new Date(T0 + 65_000))).toBe('0s');
  });
});

describe('dags backfill progress', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('on a terminal: a bar with runs ended of all, by state, and the ETA, drawn on the progress stream', async () => {
    const term = captured(true);
    const res = await backfillWith(term.stream);
    expect({ code: res.code, err: res.err, polls: res.polls }).toEqual({ code: 0, err: '', polls: 3 });
    // Each redraw goes back to the line's start: the frames are what lies between the escapes.
    // eslint-disable-next-line no-control-regex
    const frames = term.text().split(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]|\r|\n/).map((f) => f.trim()).filter(Boolean);
    const bar = (filled: number) => '='.repeat(filled) + '-'.repeat(40 - filled);
    expect(frames).toEqual([
      `backfill #7 [${bar(0)}] 0/3 runs | 0 ok, 0 failed, 1 running | ETA --`,
      `backfill #7 [${bar(13)}] 1/3 runs | 1 ok, 0 failed, 1 running | ETA 2s`,
      `backfill #7 [${bar(27)}] 2/3 runs | 2 ok, 0 failed, 1 running | ETA 1s`,
      `backfill #7 [${bar(40)}] 3/3 runs | 3 ok, 0 failed, 0 running | ETA 0s`,
    ]);
    // The cursor is hidden while the bar draws and shown again at its end.
    expect(term.text().startsWith('\x1B7\x1B[?25l')).toBe(true);
    expect(term.text()).toContain('\x1B[?25h');
    // No plain progress lines on stdout: only the start and the end.
    expect(res.out).toBe(
      'started backfill #7 of etl: 3 run(s) from 2025-02-01 00:00:00 to 2025-02-03 00:00:00, tasks extract, load\n' +
      'backfill #7 of etl: all 3 run(s) succeeded\n');
  });

  it('not on a terminal: plain progress lines on stdout, one per change, and nothing on the progress stream', async () => {
    const pipe = captured(false);
    const res = await backfillWith(pipe.stream);
    expect({ code: res.code, err: res.err, polls: res.polls }).toEqual({ code: 0, err: '', polls: 3 });
    expect(pipe.text()).toBe('');
    expect(res.out).toBe([
      'started backfill #7 of etl: 3 run(s) from 2025-02-01 00:00:00 to 2025-02-03 00:00:00, tasks extract, load',
      'backfill #7: 0/3 run(s) ended (0 success, 0 failed), 1 running, 2 queued',
      'backfill #7: 1/3 run(s) ended (1 success, 0 failed), 1 running, 1 queued',
      'backfill #7: 2/3 run(s) ended (2 success, 0 failed), 1 running, 0 queued',
      'backfill #7: 3/3 run(s) ended (3 success, 0 failed), 0 running, 0 queued',
      'backfill #7 of etl: all 3 run(s) succeeded',
      '',
    ].join('\n'));
  });
});
