import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REPO, runCli, SwarmflowProcess } from '../support/processes';

// What a new user does: `npm start` (standalone: embedded database, in-memory broker, the
// example DAGs), then the CLI from another terminal.
jest.setTimeout(120_000);

describe('standalone mode through the CLI', () => {
  let home: string;
  let server: SwarmflowProcess;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-home-'));
    const port = await freePort();
    env = { SWARMFLOW_HOME: home, SWARMFLOW_URL: '', SWARMFLOW_EXAMPLES_DATA: path.join(home, 'data') };
    server = new SwarmflowProcess('standalone', ['standalone', '--port', String(port), '--dags', path.join(REPO, 'examples/dags')], env);
    await server.waitForOutput('Swarmflow standalone is running', 60_000);
    // The API opens without waiting for a slow first parse: wait for it here.
    await server.waitForOutput(/parsed .*: \d+ DAG\(s\)/, 60_000);
  });

  afterAll(async () => {
    expect(await server?.stop('SIGTERM')).toBe(0);
    rmSync(home, { recursive: true, force: true });
  });

  it('lists the example DAGs (the CLI finds the server through the home folder)', async () => {
    const { code, stdout } = await runCli(['dags', 'list'], env);
    expect(code).toBe(0);
    for (const id of ['ml_pipeline', 'ml_training', 'ml_testing', 'fan_out_fan_in']) expect(stdout).toContain(id);
  });

  it('made the user admin with a password printed once and kept 0600, and the CLI calls as admin with no step', async () => {
    const password = readFileSync(path.join(home, 'admin-password'), 'utf8').trim();
    expect(server.output).toContain(`Login:   user admin, password ${password}`);
    expect(statSync(path.join(home, 'admin-password')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(home, 'standalone-token')).mode & 0o777).toBe(0o600);
    expect(await runCli(['whoami'], env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^admin \(admin\) at http:\/\/127\.0\.0\.1:\d+\n$/) });
    const anonymous = await fetch(`${JSON.parse(readFileSync(path.join(home, 'standalone.json'), 'utf8')).url}/api/v1/dags`);
    expect(anonymous.status).toBe(401);
  });

  it('runs the ML pipeline with --wait, exits 0, and its logs are readable', async () => {
    const run = await runCli(['dags', 'trigger', 'ml_pipeline', '--conf', '{"dataset":"small"}', '--wait'], env);
    expect(run.code).toBe(0);
    const runId = /run (manual__\S+)/.exec(run.stdout)![1];
    const logs = await runCli(['tasks', 'logs', 'ml_pipeline', runId, 'train'], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/epoch 5\/5 loss=/);
  });

  it('exits 1 and names the failed task when the run fails', async () => {
    const run = await runCli(['dags', 'trigger', 'ml_pipeline', '--conf', '{"dataset":"small","min_accuracy":0.999}', '--wait'], env);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/evaluate/);
    expect(run.stdout + run.stderr).toMatch(/below min_accuracy/);
  });

  it('rejects a conf that does not match the params, naming the field', async () => {
    const run = await runCli(['dags', 'trigger', 'ml_pipeline', '--conf', '{"epochs":"ten"}'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('conf.epochs');
  });
});
