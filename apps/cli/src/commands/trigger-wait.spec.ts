import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunDetailDto, TaskInstanceDto } from '../api-client';
import type { CliDeps } from '../cli-context';
import { runCli } from '../program';

function ti(patch: Partial<TaskInstanceDto>): TaskInstanceDto {
  return {
    taskId: 'extract', state: 'none', tryNumber: 0, maxTries: 1, queue: 'default', pool: 'default_pool', worker: null, hostname: null,
    exitCode: null, reason: null, queuedAt: null, startedAt: null, endedAt: null, nextRetryAt: null, outputs: null, cachedFrom: null, ...patch,
  };
}

function run(state: RunDetailDto['state'], tis: TaskInstanceDto[]): RunDetailDto {
  return {
    dagId: 'etl', runId: 'r1', runType: 'manual', state, logicalDate: '2025-03-01T00:00:00.000Z', conf: {}, params: {},
    versionHash: 'v', createdAt: '2025-03-01T00:00:00.000Z', startedAt: null, endedAt: null, reason: null, cacheForce: null, taskInstances: tis, images: [],
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

/**
 * A real HTTP server on loopback (the CLI's own fetch, sockets and error paths) whose run
 * polls fail in each transient way before the run ends: 503 unavailable (its database is
 * out of reach), a reset connection, a proxy's 502 and 504, and a refused connection.
 */
describe('dags trigger --wait against an API that fails a few polls', () => {
  let server: Server;
  let port = 0;
  let polls = 0;
  let listening = false;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && req.url === '/api/v1/dags/etl/runs') return json(res, 201, run('queued', []));
    if (req.method === 'GET' && req.url === '/api/v1/dags/etl') return json(res, 200, { dagId: 'etl', isPaused: false });
    if (req.method !== 'GET' || req.url !== '/api/v1/dags/etl/runs/r1') return json(res, 404, { reason: 'not_found', message: req.url });
    polls++;
    if (polls === 1) return json(res, 200, run('running', [ti({ state: 'running', tryNumber: 1, worker: 'w1' })]));
    if (polls === 2) return json(res, 503, { reason: 'unavailable', message: 'the database cannot be reached (connection refused)' });
    if (polls === 3) return req.socket.destroy();
    if (polls === 4) return res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad Gateway');
    if (polls === 5) {
      // The server goes away: the next poll is refused until it listens again.
      res.writeHead(504, { 'content-type': 'text/plain', connection: 'close' }).end('Gateway Timeout');
      listening = false;
      server.close();
      server.closeAllConnections();
      return;
    }
    return json(res, 200, run('success', [ti({ state: 'success', tryNumber: 1, exitCode: 0 })]));
  };

  const listen = () => new Promise<void>((resolve) => {
    server = createServer(handler);
    server.listen(port, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      listening = true;
      resolve();
    });
  });

  beforeAll(listen);
  afterAll(() => new Promise<void>((resolve) => (listening ? server.close(() => resolve()) : resolve())));

  it('retries each transient failure with backoff and reports only the run\'s real end', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const sleeps: number[] = [];
    let t = 0;
    let refusedSleeps = 0;
    const deps: CliDeps = {
      stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: { SWARMFLOW_URL: `http://127.0.0.1:${port}` },
      now: () => new Date(t),
      // Time moves only when the CLI sleeps; the server comes back on the second sleep after it left.
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
        if (!listening && ++refusedSleeps === 2) await listen();
      },
      readFile: () => null,
    };
    const code = await runCli(['dags', 'trigger', 'etl', '--run-id', 'r1', '--wait'], deps);
    expect({ code, err: err.join('') }).toEqual({ code: 0, err: '' });
    expect(out.join('').split('\n').filter(Boolean)).toEqual([
      'triggered etl run r1 (logical date 2025-03-01T00:00:00.000Z)',
      'run r1: running',
      expect.stringMatching(/^ {2}extract +running/),
      'API not answering (HTTP 503 unavailable): retrying until it does; the run goes on',
      'API answers again (after 5 failed polls): still waiting for run r1',
      'run r1: success',
      expect.stringMatching(/^ {2}extract +success/),
    ]);
    // The poll interval, then a backoff doubling from 0.5 s and capped at 5 s.
    expect(sleeps).toEqual([500, 500, 1000, 2000, 4000, 5000]);
    expect(polls).toBe(6);
  });
});
