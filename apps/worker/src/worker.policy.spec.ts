import { DEFAULT_CONTAINER_POLICY } from '@swarmflow/executors';
import { dockerSpec } from '@swarmflow/executors/test-support/docker';
import { startHarness, taskMessage, type Harness } from './test-support/worker-harness';

/** A Docker executor that records what it is asked to run and ends each container at once. */
function recordingDocker(): { runs: Array<Record<string, unknown>>; docker: never } {
  const runs: Array<Record<string, unknown>> = [];
  const ended = { exitCode: 0, signal: null, timedOut: false, cancelled: false, error: null, lost: null, oomKilled: false };
  const docker = { run: (spec: Record<string, unknown>) => (runs.push(spec), { containerId: null, result: Promise.resolve(ended), cancel: () => undefined }) };
  return { runs, docker: docker as never };
}

describe('worker-side policy for container tasks', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it.each([
    ['the Docker socket', { volumes: [{ source: '/var/run/docker.sock', target: '/var/run/docker.sock', readOnly: false }] }, '--allow-mounts'],
    ['the host root', { volumes: [{ source: '/', target: '/host', readOnly: false }] }, '--allow-mounts any'],
    ['the host network', { network: 'host' }, '--allow-host-network'],
    ['an unlisted runtime', { runtime: 'runc-privileged' }, '--allow-runtimes'],
  ])('fails a task asking for %s, naming the option, without running it or retrying', async (_what, docker, option) => {
    const fake = recordingDocker();
    h = await startHarness({}, { docker: fake.docker });
    const task = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec(docker) });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished).toMatchObject({ outcome: 'failed', retryable: false, reason: expect.stringContaining(option) });
    expect(finished.reason).toContain('worker w1');
    expect(fake.runs).toEqual([]);
  });

  it('runs what its operator allows, and hardens every container unless told otherwise', async () => {
    const fake = recordingDocker();
    h = await startHarness({ containerPolicy: { ...DEFAULT_CONTAINER_POLICY, allowMounts: ['/data'], allowHostNetwork: true } }, { docker: fake.docker });
    const task = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec({ network: 'host', volumes: [{ source: '/data/in', target: '/in', readOnly: true }] }) });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId)).toMatchObject({ outcome: 'success' });
    expect(fake.runs[0]).toMatchObject({ noNewPrivileges: true, pidsLimit: 4096 });
    await h.close();

    const privileged = recordingDocker();
    h = await startHarness({ containerPolicy: { ...DEFAULT_CONTAINER_POLICY, allowPrivileged: true, pidsLimit: 0 } }, { docker: privileged.docker });
    const other = taskMessage({ kind: 'docker', command: 'x', docker: dockerSpec() });
    await h.submit(other);
    await h.published.finishedOf(other.tiId);
    expect(privileged.runs[0]).toMatchObject({ noNewPrivileges: false, pidsLimit: 0 });
  });
});

describe('what process tasks can read', () => {
  let h: Harness;
  const saved = { ...process.env };

  afterEach(async () => {
    await h?.close();
    process.env = { ...saved };
  });

  it('never inherit the cluster key, the database or the broker URL', async () => {
    Object.assign(process.env, {
      SWARMFLOW_CLUSTER_KEY: 'c2VjcmV0LWNsdXN0ZXIta2V5', SWARMFLOW_CLUSTER_KEY_FILE: '/run/secrets/key',
      SWARMFLOW_DATABASE_URL: 'postgres://u:dbpass@db/x', SWARMFLOW_AMQP_URL: 'amqp://u:amqppass@mq', KEEP_ME: 'kept',
    });
    h = await startHarness();
    const task = taskMessage({ command: 'env' });
    await h.submit(task);
    await h.published.finishedOf(task.tiId);
    const env = h.published.logLines(task.tiId).filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect(env).toContain('KEEP_ME=kept');
    expect(env.filter((l) => /^SWARMFLOW_(CLUSTER_KEY|DATABASE_URL|AMQP_URL)/.test(l))).toEqual([]);
    expect(env.join('\n')).not.toMatch(/c2VjcmV0LWNsdXN0ZXIta2V5|dbpass|amqppass/);
  });

  // Needs root (to switch users); CI runs as root, so there it runs (and fails) whatever the user.
  const asRoot = process.getuid?.() === 0 || process.env.CI === 'true' ? it : it.skip;
  asRoot('run as the configured user (--run-as-user), with that user\'s HOME', async () => {
    h = await startHarness({ runAs: { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' } });
    const task = taskMessage({ command: 'echo "$(id -u):$(id -g) $HOME $USER"', cwd: '/' });
    await h.submit(task);
    await h.published.finishedOf(task.tiId);
    expect(h.published.logLines(task.tiId).filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['65534:65534 /nonexistent nobody']);
  });
});
