import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually, freePort, runCli, SwarmflowProcess } from '../support/processes';

// A graceful stop of `npm start` (standalone: in-memory broker, embedded database) records
// every try that finished while it drained: after a restart nothing runs again. A try still
// queued (its message in the in-memory broker, which dies with the process) runs after it.
jest.setTimeout(180_000);

// Each task runs until the test creates the gate file: a and b are still running when the
// stop begins, however slow the machine (a fixed `sleep 2` could end first, and c then
// started on try 1 before the stop held it).
const wait = (gate: string) => `>-\n    while [ ! -e "${gate}" ]; do sleep 0.1; done`;
const dag = (gate: string) => `id: stop_drain
schedule: null
defaults:
  retries: 1
  retry_delay: 1s
tasks:
  a: ${wait(gate)}
  b: ${wait(gate)}
  c: ${wait(gate)}
`;

interface Ti { taskId: string; state: string; tryNumber: number }

describe('standalone: SIGINT while tasks run, then a restart', () => {
  let home: string;
  let dags: string;
  let gate: string;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let server: SwarmflowProcess | null = null;

  const start = async (name: string) => {
    server = new SwarmflowProcess(name, ['standalone', '--port', String(port), '--dags', dags, '--concurrency', '2'], env);
    await server.waitForOutput('Swarmflow standalone is running', 90_000);
    return server;
  };
  /** The API with standalone's own token (written at its first start). */
  const get = (route: string) => fetch(`http://127.0.0.1:${port}/api/v1/${route}`, {
    headers: { Authorization: `Bearer ${readFileSync(path.join(home, 'standalone-token'), 'utf8').trim()}` },
  });
  const tis = async (): Promise<Ti[]> => {
    const res = await get('dags/stop_drain/runs/r1');
    if (!res.ok) return [];
    return ((await res.json()) as { taskInstances: Ti[] }).taskInstances;
  };

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-stop-'));
    dags = path.join(home, 'dags');
    mkdirSync(dags);
    gate = path.join(home, 'gate');
    writeFileSync(path.join(dags, 'stop_drain.yaml'), dag(gate));
    port = await freePort();
    env = { SWARMFLOW_HOME: home, SWARMFLOW_URL: `http://127.0.0.1:${port}` };
  });

  afterAll(async () => {
    await server?.stop('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  });

  it('records both running tries as success on try 1 before exiting; the restart runs neither again, and runs the queued one', async () => {
    const first = await start('standalone (first)');
    const trigger = await runCli(['dags', 'trigger', 'stop_drain', '--run-id', 'r1'], env);
    expect(trigger.code).toBe(0);
    // Concurrency 2: a and b run, c waits queued.
    await eventually(async () => ((await tis()).filter((t) => t.state === 'running').length === 2 ? true : undefined), 30_000, 'two tasks running');

    // Ctrl-C mid-run: the worker drains (both tasks finish once the gate opens), and the process exits 0.
    const exit = first.stop('SIGINT', 60_000);
    try {
      await first.waitForOutput(/stopping: waiting for \d+ running task\(s\)/, 30_000); // the worker takes no new task now
    } finally {
      writeFileSync(gate, '');
    }
    expect(await exit).toBe(0);
    expect(first.output).toContain('SIGINT: shutting down');

    await start('standalone (restarted)');
    // Recorded before the exit: success on try 1 at once, and no try 2 ever.
    const after = (await tis()).map(({ taskId, state, tryNumber }) => ({ taskId, state, tryNumber }));
    const running = after.filter((t) => t.taskId !== 'c');
    expect(running).toEqual([{ taskId: 'a', state: 'success', tryNumber: 1 }, { taskId: 'b', state: 'success', tryNumber: 1 }]);
    await eventually(async () => {
      const res = await get('dags/stop_drain/runs/r1');
      return ((await res.json()) as { state: string }).state === 'success' ? true : undefined;
    }, 30_000, 'the run to be success');
    const ended = await tis();
    expect(ended.map((t) => [t.taskId, t.state, t.tryNumber])).toEqual([['a', 'success', 1], ['b', 'success', 1], ['c', 'success', 2]]);
    expect(server!.output).not.toMatch(/no longer runs try/);
    expect(server!.output).toContain('1 queued try lost its task message with the last run\'s in-memory broker: queued again');
  });
});
