import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutputStream } from '../process/process-executor';
import { describeWithDocker, dockerSpec, TEST_IMAGE } from '../test-support/docker';
import { containerCreateOptions, LABELS, taskLabels, type ContainerSpec } from './container-options';
import { DockerExecutor, REPORTED_SUFFIX, type ContainerHooks, type ContainerRun } from './container-executor';
import { DockerClient, DockerError } from './docker-client';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';

interface Recorded extends ContainerHooks {
  lines: { stream: OutputStream; line: string }[];
  kills: string[];
  statuses: string[];
  out(): string[];
}

function hooks(): Recorded {
  const r: Recorded = {
    lines: [], kills: [], statuses: [],
    onLine: (stream, line) => r.lines.push({ stream, line }),
    onKill: (signal, cause) => r.kills.push(`${signal}:${cause}`),
    onStatus: (message) => r.statuses.push(message),
    out: () => r.lines.map((l) => l.line),
  };
  return r;
}

describeWithDocker('runContainer (real Docker engine)', (ctx) => {
  jest.setTimeout(60_000);
  let nextTi = 1;

  // For a task that handles SIGTERM (its trap exits 143): a grace it cannot miss however loaded the
  // machine, so the exit code shows the TERM reached it, not that Docker's SIGKILL came first (at load
  // 56 a trap missed the default 1 s here).
  const TRAP_GRACE_MS = 30_000;

  /** The installation of the containers below: no worker of another test run on this engine adopts or reaps them. */
  const installation = `exec-${ctx.id}.swarmflow`;

  function spec(command: string | string[], overrides: Partial<Omit<ContainerSpec, 'docker'>> & { docker?: Parameters<typeof dockerSpec>[0] } = {}): ContainerSpec {
    const { docker, ...rest } = overrides;
    return {
      docker: dockerSpec(docker), command, env: {}, cwd: null, timeoutMs: null, graceMs: 1000,
      labels: { ...ctx.labels, ...taskLabels({ installation, worker: `exec-${ctx.id}`, tiId: nextTi++, tryNumber: 1, dagId: 'd', runId: 'r', taskId: 't' }) },
      ...rest,
    };
  }

  async function containersOf(tiId: string): Promise<string[]> {
    return (await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: tiId })).map((c) => c.name);
  }

  it('reads the output file of a container that exits 0, written by any user; over the cap it gives the size', async () => {
    const output = { path: '/swarmflow/output.json', maxBytes: 64 };
    const ok = await ctx.executor.run(spec('echo \'{"rows": 3}\' > /swarmflow/output.json', { output, docker: { user: '1234' } }), hooks()).result;
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toEqual({ content: Buffer.from('{"rows": 3}\n') });
    const none = await ctx.executor.run(spec('true', { output }), hooks()).result;
    expect(none.output).toBeUndefined();
    const big = await ctx.executor.run(spec('head -c 5000 /dev/zero > /swarmflow/output.json', { output }), hooks()).result;
    expect(big.output).toEqual({ tooLarge: 5000 });
    const failed = await ctx.executor.run(spec('echo {} > /swarmflow/output.json; exit 3', { output }), hooks()).result;
    expect([failed.exitCode, failed.output]).toEqual([3, undefined]);
  });

  it('streams stdout and stderr as lines, reports exit code 0 and removes the container', async () => {
    const h = hooks();
    const s = spec('echo out1; echo err1 >&2; printf "a\\nb"; echo " end" >&2');
    const run = ctx.executor.run(s, h);
    const result = await run.result;
    expect(result).toEqual({
      exitCode: 0, signal: null, timedOut: false, cancelled: false, error: null, lost: null, oomKilled: false,
      imageDigest: (await ctx.client.imageDigest(TEST_IMAGE)),
    });
    expect(result.imageDigest).toMatch(/^(.+@)?sha256:[0-9a-f]{64}$/);
    expect(h.lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['out1', 'a', 'b']);
    expect(h.lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['err1', ' end']);
    expect(run.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(await run.started).toBe(run.containerId);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
  });

  it('passes on every line a container wrote, the last unterminated one included, every time', async () => {
    // The follow stream may end before Docker has logged the last partial line: 30 tries catch it.
    const runs = Array.from({ length: 30 }, async () => {
      const h = hooks();
      await ctx.executor.run(spec('echo out1; echo err1 >&2; printf "a\\nb"; echo " end" >&2'), h).result;
      return h.lines.map((l) => `${l.stream}:${l.line}`).sort();
    });
    for (const lines of await Promise.all(runs)) {
      expect(lines).toEqual(['stderr: end', 'stderr:err1', 'stdout:a', 'stdout:b', 'stdout:out1']);
    }
  });

  it.each([3, 99])('reports exit code %i', async (code) => {
    const result = await ctx.executor.run(spec(`exit ${code}`), hooks()).result;
    expect(result).toMatchObject({ exitCode: code, signal: null, error: null });
  });

  it('runs an argv command, with env, working dir and user, and no network by default', async () => {
    const h = hooks();
    const result = await ctx.executor.run(spec(['sh', '-c', 'echo "$FOO|$(pwd)|$(id -u)"; ls /sys/class/net'], {
      env: { FOO: 'bar baz' }, cwd: '/tmp', docker: { user: '65534' },
    }), h).result;
    expect(result.exitCode).toBe(0);
    expect(h.out()).toEqual(['bar baz|/tmp|65534', 'lo']);
  });

  it('[] keeps the image\'s default command, and the entrypoint can be replaced', async () => {
    const h = hooks();
    const result = await ctx.executor.run(spec([], { docker: { entrypoint: ['echo', 'from-entrypoint'] } }), h).result;
    expect(result.exitCode).toBe(0);
    expect(h.out()).toEqual(['from-entrypoint']); // Docker drops the image's CMD when the entrypoint is replaced
  });

  it('mounts a host directory read-only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-vol-'));
    writeFileSync(join(dir, 'in.txt'), 'hello from the host\n');
    const h = hooks();
    const result = await ctx.executor.run(spec('cat /data/in.txt; touch /data/x 2>/dev/null || echo read-only', {
      docker: { volumes: [{ source: dir, target: '/data', readOnly: true }] },
    }), h).result;
    expect(result.exitCode).toBe(0);
    expect(h.out()).toEqual(['hello from the host', 'read-only']);
  });

  it('a timeout stops the container: SIGTERM, then SIGKILL after the grace period', async () => {
    const h = hooks();
    // A shell as PID 1 ignores SIGTERM: Docker kills it after the grace period.
    const result = await ctx.executor.run(spec('echo up; sleep 30', { timeoutMs: 500, graceMs: 1000 }), h).result;
    expect(result).toMatchObject({ exitCode: 137, signal: 'SIGKILL', timedOut: true, cancelled: false, error: null });
    expect(h.kills).toEqual(['SIGTERM:timeout', 'SIGKILL:timeout']);
    expect(h.out()).toEqual(['up']);
  });

  it('a container that handles SIGTERM ends with it', async () => {
    const h = hooks();
    const run = ctx.executor.run(spec('trap "echo got TERM; exit 143" TERM; echo up; while true; do sleep 0.1; done', { timeoutMs: 800, graceMs: TRAP_GRACE_MS }), h);
    const result = await run.result;
    expect(result).toMatchObject({ exitCode: 143, signal: 'SIGTERM', timedOut: true });
    expect(h.out()).toEqual(['up', 'got TERM']);
    expect(h.kills).toEqual(['SIGTERM:timeout']);
  });

  it('cancel stops a running container and reports it cancelled', async () => {
    const h = hooks();
    const s = spec('trap "exit 143" TERM; echo up; while true; do sleep 0.1; done', { graceMs: TRAP_GRACE_MS });
    const run = ctx.executor.run(s, h);
    await run.started;
    run.cancel('user asked');
    const result = await run.result;
    expect(result).toMatchObject({ exitCode: 143, signal: 'SIGTERM', timedOut: false, cancelled: true, error: null });
    expect(h.kills).toEqual(['SIGTERM:user asked']);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
    run.cancel(); // a no-op once ended
  });

  it('cancel before the start: the container never starts and nothing is left', async () => {
    const s = spec('echo should-not-run', { secrets: [{ key: 'k', value: 'v' }] });
    const h = hooks();
    const run = ctx.executor.run(s, h);
    run.cancel('early');
    const result = await run.result;
    expect(result).toMatchObject({ exitCode: null, cancelled: true, error: null });
    expect(await run.started).toBeNull();
    expect(h.out()).toEqual([]);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
    expect(await ctx.client.listVolumes({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] })).toEqual([]);
  });

  it('mounts secrets read-only at secretsPath, owned by the task\'s user, and removes the volume after', async () => {
    const h = hooks();
    const s = spec(
      'ls -ln /secrets/variables | tail -n +2 | awk \'{print $1, $3, $9}\'; cat /secrets/variables/db_password; echo; ' +
      'cat /secrets/variables/api.token; echo; (echo x > /secrets/variables/db_password) 2>/dev/null || echo cannot-write; ' +
      'grep " /secrets/variables " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1',
      { docker: { user: '65534' }, secrets: [{ key: 'db_password', value: 's3cr3t-pw' }, { key: 'api.token', value: 'tok en\nline2' }] },
    );
    const result = await ctx.executor.run(s, h).result;
    expect(result).toMatchObject({ exitCode: 0, error: null });
    expect(h.out()).toEqual([
      '-r-------- 65534 api.token', '-r-------- 65534 db_password', 's3cr3t-pw', 'tok en', 'line2', 'cannot-write', 'tmpfs ro',
    ]);
    expect(await ctx.client.listVolumes({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] })).toEqual([]);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
  });

  it('removes the secrets volume when the container cannot start', async () => {
    const s = spec(['/no/such/binary'], { secrets: [{ key: 'k', value: 'v' }] });
    const result = await ctx.executor.run(s, hooks()).result;
    expect(result.error).toMatch(/no such file or directory/);
    expect(await ctx.client.listVolumes({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] })).toEqual([]);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
  });

  it('keeps the container when autoRemove is false, marked as reported', async () => {
    const s = spec('echo kept; exit 4', { docker: { autoRemove: false } });
    const run = ctx.executor.run(s, hooks());
    expect((await run.result).exitCode).toBe(4);
    const [name] = await containersOf(s.labels[LABELS.tiId]);
    expect(name).toMatch(new RegExp(`^swarmflow-${s.labels[LABELS.tiId]}-1-[0-9a-f]{8}${REPORTED_SUFFIX}$`));
    const info = await ctx.client.inspectContainer(run.containerId!);
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 4 });
    expect(info.HostConfig.AutoRemove).toBe(false);
    expect(info.Config.Labels).toMatchObject({ ...s.labels, [LABELS.role]: 'task', [LABELS.autoRemove]: 'false' });
  });

  it('fails clearly when the image is missing and the pull policy is never', async () => {
    const result = await ctx.executor.run(spec('true', { docker: { image: 'swarmflow/not-here:1.0', pullPolicy: 'never' } }), hooks()).result;
    expect(result).toMatchObject({ exitCode: null, error: 'image "swarmflow/not-here:1.0" is not present and pull policy is never' });
  });

  it('a cache hit to confirm: the same digest creates no container; another digest runs it, saying why', async () => {
    const digest = await ctx.client.imageDigest(TEST_IMAGE);
    const h = hooks();
    const same = spec('echo ran', { cachedDigest: digest, docker: { autoRemove: false } });
    const hit = ctx.executor.run(same, h);
    expect(await hit.result).toEqual({
      exitCode: null, signal: null, timedOut: false, cancelled: false, error: null, lost: null, oomKilled: false, imageDigest: digest, cacheHit: true,
    });
    expect([hit.containerId, await hit.started]).toEqual([null, null]);
    expect(await containersOf(same.labels[LABELS.tiId])).toEqual([]);
    expect(h.statuses).toEqual([`cache hit confirmed: image ${TEST_IMAGE} is still ${digest}, the digest the cached try ran: no container is created`]);

    const moved = hooks();
    const stale = `sha256:${'0'.repeat(64)}`;
    const ran = await ctx.executor.run(spec('echo ran', { cachedDigest: stale }), moved).result;
    expect(ran).toMatchObject({ exitCode: 0, imageDigest: digest });
    expect(ran.cacheHit).toBeUndefined();
    expect(moved.out()).toEqual(['ran']);
    expect(moved.statuses[0]).toBe(`cache hit refused: image ${TEST_IMAGE} is now ${digest}, the cached try ran ${stale}: the task runs`);

    // Any name of the same content counts: here the image id (a pulled image also goes by its registry digests).
    const id = (await ctx.client.imageDigests(TEST_IMAGE)).at(-1)!;
    expect((await ctx.executor.run(spec('echo ran', { cachedDigest: id }), hooks()).result).cacheHit).toBe(true);

    // A missing image is resolved as for running it: with pull policy never, the try fails.
    const missing = await ctx.executor.run(spec('true', { cachedDigest: stale, docker: { image: 'swarmflow/not-here:1.0', pullPolicy: 'never' } }), hooks()).result;
    expect(missing).toMatchObject({ exitCode: null, error: 'image "swarmflow/not-here:1.0" is not present and pull policy is never' });
  });

  it('reports a failed pull with Docker\'s reason (no registry is reachable here)', async () => {
    const h = hooks();
    const result = await ctx.executor.run(spec('true', { docker: { image: 'localhost:1/swarmflow/not-here:1.0', pullPolicy: 'if-not-present' } }), h).result;
    expect(result.error).toMatch(/^cannot pull image "localhost:1\/swarmflow\/not-here:1.0": .+/);
    expect(h.statuses[0]).toBe('pulling image localhost:1/swarmflow/not-here:1.0');
  });

  it('fails with Docker\'s reason for an unknown runtime', async () => {
    const s = spec('true', { docker: { runtime: 'no-such-runtime' } });
    const result = await ctx.executor.run(s, hooks()).result;
    expect(result.exitCode).toBeNull();
    expect(result.error).toMatch(/no-such-runtime/);
    expect(result.error).toMatch(/unknown|Unknown/);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
  });

  it('fails with Docker\'s reason for a command that does not exist', async () => {
    const result = await ctx.executor.run(spec(['no-such-command']), hooks()).result;
    expect(result.exitCode).toBeNull();
    expect(result.error).toMatch(/"no-such-command": executable file not found/);
  });

  it('creates device requests for the assigned GPU ids (created, not started: there is no GPU here)', async () => {
    const s = spec('true', { docker: { gpus: 2, gpuMode: 'device-request' }, gpuIds: ['1', '3'] });
    const id = await ctx.client.createContainer(containerCreateOptions(s, { secretsVolume: null }));
    try {
      const info = await ctx.client.inspectContainer(id);
      expect(info.HostConfig.DeviceRequests).toEqual([{ Driver: 'nvidia', Count: 0, DeviceIDs: ['1', '3'], Capabilities: [['gpu']], Options: null }]);
      expect(info.Config.Env).toContain('NVIDIA_VISIBLE_DEVICES=1,3');
    } finally {
      await ctx.client.removeContainer(id);
    }
  });

  it('runs a GPU task on the nvidia runtime with NVIDIA_VISIBLE_DEVICES (stand-in runtime: runc)', async () => {
    const h = hooks();
    const s = spec('echo "gpus=$NVIDIA_VISIBLE_DEVICES"', { docker: { gpus: 2, gpuMode: 'runtime', autoRemove: false }, gpuIds: ['0', '2'] });
    const run = ctx.executor.run(s, h);
    expect(await run.result).toMatchObject({ exitCode: 0, error: null });
    expect(h.out()).toEqual(['gpus=0,2']);
    const info = await ctx.client.inspectContainer(run.containerId!);
    expect(info.HostConfig.Runtime).toBe('nvidia');
    expect(info.HostConfig.DeviceRequests ?? []).toEqual([]);
  });

  it('refuses a GPU task given fewer ids than it needs', async () => {
    const result = await ctx.executor.run(spec('true', { docker: { gpus: 2 }, gpuIds: ['0'] }), hooks()).result;
    expect(result.error).toBe('the task needs 2 GPU(s) but was given 1 GPU id(s)');
  });

  it('a cancel that lands while the container is being started still stops it (Docker ignored the first stop: 304)', async () => {
    const client = new DockerClient();
    const executor = new DockerExecutor(client);
    const start = client.startContainer.bind(client);
    const stop = client.stopContainer.bind(client);
    let firstStop: Promise<void> | null = null;
    client.stopContainer = (id, seconds) => {
      const p = stop(id, seconds);
      firstStop ??= p;
      return p;
    };
    let run!: ContainerRun;
    client.startContainer = async (id) => {
      // The stop reaches Docker before the start: the container is not running, nothing happens.
      run.cancel('user asked');
      await firstStop;
      await start(id);
    };
    const h = hooks();
    const s = spec('trap "exit 143" TERM; echo up; i=0; while [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done', { graceMs: TRAP_GRACE_MS });
    const began = Date.now();
    run = executor.run(s, h);
    const result = await run.result;
    // Exit code 143 comes from the task's own TERM trap: the stop reached it. Had the cancel been lost,
    // the loop would have run its 15 s and exited 0. That is the proof, not a clock; the time is printed.
    process.stdout.write(`container-executor: a cancel during the start ended the task ${Date.now() - began} ms after the run began\n`);
    expect(result).toMatchObject({ exitCode: 143, signal: 'SIGTERM', cancelled: true, timedOut: false, error: null });
    expect(h.kills).toEqual(['SIGTERM:user asked']);
    expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
  });

  describe('a failure while following the container (e.g. the Docker daemon restarts)', () => {
    /** A client whose first `failures` waits fail with a connection error, after `afterMs`. */
    function flakyWaits(failures: number, afterMs: number): DockerClient {
      const client = new DockerClient();
      const wait = client.waitContainer.bind(client);
      let left = failures;
      client.waitContainer = async (id, signal) => {
        if (left-- > 0) {
          await new Promise((resolve) => setTimeout(resolve, afterMs));
          throw new DockerError('wait for container', null, 'socket hang up');
        }
        return wait(id, signal);
      };
      return client;
    }

    it('waits again for a container still running, and reports its real exit code', async () => {
      const executor = new DockerExecutor(flakyWaits(1, 300), { followRetryDelaysMs: [100, 200] });
      const h = hooks();
      const s = spec('echo one; sleep 1.5; echo two; exit 4');
      const result = await executor.run(s, h).result;
      expect(result).toMatchObject({ exitCode: 4, error: null, cancelled: false });
      expect(result.containerMayRun).toBeUndefined();
      expect(h.out()).toEqual(['one', 'two']);
      expect(h.statuses).toEqual(expect.arrayContaining([
        expect.stringMatching(/^waiting for container [0-9a-f]{12} failed \(socket hang up\); looking at it again in 100 ms$/),
        expect.stringMatching(/^container [0-9a-f]{12} is still running; following it again$/),
      ]));
      expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
    });

    it('reads the exit code of a container that ended while its wait was failing', async () => {
      const executor = new DockerExecutor(flakyWaits(1, 0), { followRetryDelaysMs: [800] });
      const result = await executor.run(spec('exit 3'), hooks()).result;
      expect(result).toMatchObject({ exitCode: 3, error: null });
    });

    it('keeps the timeout running meanwhile', async () => {
      const executor = new DockerExecutor(flakyWaits(1, 100), { followRetryDelaysMs: [100] });
      const h = hooks();
      const result = await executor.run(spec('trap "exit 143" TERM; while true; do sleep 0.1; done', { timeoutMs: 800, graceMs: TRAP_GRACE_MS }), h).result;
      expect(result).toMatchObject({ exitCode: 143, signal: 'SIGTERM', timedOut: true, error: null });
    });

    it('gives up after the bounded attempts with a clear error, and leaves the running container alone', async () => {
      const executor = new DockerExecutor(flakyWaits(100, 0), { followRetryDelaysMs: [50, 50] });
      const s = spec('sleep 30');
      const run = executor.run(s, hooks());
      const result = await run.result;
      expect(result).toMatchObject({ exitCode: null, containerMayRun: true });
      expect(result.error).toMatch(/^lost track of container [0-9a-f]{12}: socket hang up \(still failing after 2 attempt\(s\)\); it may still be running and is left as it is$/);
      expect((await ctx.client.inspectContainer(run.containerId!)).State.Running).toBe(true);
      await ctx.client.removeContainer(run.containerId!, true);
    });

    it('reads the log again when its stream breaks while the container runs', async () => {
      const client = new DockerClient();
      const logs = client.logs.bind(client);
      let broken = false;
      client.logs = async (id, options) => {
        const source = await logs(id, options);
        if (!broken && !Buffer.isBuffer(source)) {
          broken = true;
          setTimeout(() => (source as unknown as { destroy(err: Error): void }).destroy(new Error('connection reset')), 500);
        }
        return source;
      };
      const h = hooks();
      const result = await new DockerExecutor(client, { followRetryDelaysMs: [100] }).run(spec('echo one; sleep 1.5; echo two'), h).result;
      expect(result).toMatchObject({ exitCode: 0, error: null });
      expect(h.out()).toEqual(['one', 'two']);
      expect(h.statuses).toContain("the container's log stream failed (connection reset) while it runs; reading it again");
    });

    it('adopt: waits again for a running container, and never force-removes it on such an error', async () => {
      const s = spec('echo before; sleep 1.5; exit 6');
      const id = await ctx.client.createContainer(containerCreateOptions(s, { secretsVolume: null }));
      await ctx.client.startContainer(id);
      const [summary] = await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] });
      const result = await new DockerExecutor(flakyWaits(1, 200), { followRetryDelaysMs: [100] }).adopt(summary, hooks(), { timeoutMs: null }).result;
      expect(result).toMatchObject({ exitCode: 6, error: null });
      expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);

      const s2 = spec('sleep 30');
      const id2 = await ctx.client.createContainer(containerCreateOptions(s2, { secretsVolume: null }));
      await ctx.client.startContainer(id2);
      const [summary2] = await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: s2.labels[LABELS.tiId] });
      const lost = await new DockerExecutor(flakyWaits(100, 0), { followRetryDelaysMs: [50] }).adopt(summary2, hooks(), { timeoutMs: null }).result;
      expect(lost).toMatchObject({ exitCode: null, containerMayRun: true, error: expect.stringMatching(/^lost track of container/) });
      expect((await ctx.client.inspectContainer(id2)).State.Running).toBe(true);
      await ctx.client.removeContainer(id2, true);
    });
  });

  describe('adopt', () => {
    it('follows a running container from now on, applies the rest of its timeout, reports its exit code, removes it', async () => {
      const s = spec('echo before; sleep 1; echo after; exit 5');
      const id = await ctx.client.createContainer(containerCreateOptions(s, { secretsVolume: null }));
      await ctx.client.startContainer(id);
      // Adopted once it has written its first line: that line is before the adoption, not reported.
      await waitUntil('the container\'s first line', async () => String(await ctx.client.logs(id, { follow: false })).includes('before'), { timeoutMs: 10_000, intervalMs: 20 });
      const [summary] = await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] });
      const h = hooks();
      const run = ctx.executor.adopt(summary, h, { timeoutMs: 60_000 });
      expect(await run.started).toBe(id);
      expect(await run.result).toMatchObject({ exitCode: 5, error: null, timedOut: false });
      expect(h.out()).toEqual(['after']);
      expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
    });

    it('stops an adopted container whose timeout has passed', async () => {
      const s = spec('sleep 30');
      const id = await ctx.client.createContainer(containerCreateOptions(s, { secretsVolume: null }));
      await ctx.client.startContainer(id);
      const [summary] = await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: s.labels[LABELS.tiId] });
      const h = hooks();
      const result = await ctx.executor.adopt(summary, h, { timeoutMs: 100, graceMs: 0 }).result;
      expect(result).toMatchObject({ exitCode: 137, timedOut: true });
    });

    it('reads the exit code and last lines of a container that ended while no worker followed it', async () => {
      const s = spec('for i in 1 2 3 4 5; do echo line$i; done; exit 7', { docker: { autoRemove: false } });
      const id = await ctx.client.createContainer(containerCreateOptions(s, { secretsVolume: null }));
      await ctx.client.startContainer(id);
      await ctx.client.waitContainer(id);
      const [summary] = await ctx.executor.listTaskContainers(`exec-${ctx.id}`, installation).then((all) => all.filter((c) => c.id === id));
      const h = hooks();
      expect(await ctx.executor.adopt(summary, h, { timeoutMs: null, tailLines: 3 }).result).toMatchObject({ exitCode: 7, error: null });
      expect(h.out()).toEqual(['line3', 'line4', 'line5']);
      // Kept (autoRemove false) but marked: not listed again.
      expect((await ctx.executor.listTaskContainers(`exec-${ctx.id}`, installation)).map((c) => c.id)).not.toContain(id);
      expect(await containersOf(s.labels[LABELS.tiId])).toHaveLength(1);
    });
  });

  describe('handOff (a stopping worker leaves its container to the next worker of its name)', () => {
    /** An adoption deadline no test reaches. */
    const LATER = Date.now() + 3_600_000;
    // Two lines per tick, many in the same instant at times: the mark must count them.
    const ticking = 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "o$i"; echo "e$i" >&2; sleep 0.05; done; exit 3';
    const expected = Array.from({ length: 40 }, (_, i) => [`o${i + 1}`, `e${i + 1}`]).flat();
    const byStream = (lines: { stream: OutputStream; line: string }[]) => ({
      stdout: lines.filter((l) => l.stream === 'stdout').map((l) => l.line), stderr: lines.filter((l) => l.stream === 'stderr').map((l) => l.line),
    });

    it('leaves it running, marked with where its log was read to; the adopter goes on from there: every line once', async () => {
      const s = spec(ticking);
      const first = hooks();
      const run = ctx.executor.run(s, first);
      await waitUntil('a few lines', async () => first.lines.length >= 6, { timeoutMs: 20_000, intervalMs: 20 });
      expect(run.handOff(LATER)).toBe(true);
      expect(run.handOff(LATER)).toBe(false);
      const handed = await run.result;
      expect(handed).toMatchObject({ handedOff: true, exitCode: null, error: null });
      expect(first.statuses.join('\n')).toMatch(/handed over, still running: the next worker of this name follows it from here/);
      const [summary] = await ctx.executor.listTaskContainers(`exec-${ctx.id}`, installation).then((all) => all.filter((c) => c.labels[LABELS.tiId] === s.labels[LABELS.tiId]));
      expect(summary.name).toMatch(/-handoff-s\d+-n\d+-u\d+$/);
      expect(summary.state).toBe('running');
      // Lines written while no one follows it are not lost.
      await new Promise((r) => setTimeout(r, 300));
      const second = hooks();
      const adopted = await ctx.executor.adopt(summary, second, { timeoutMs: null }).result;
      expect(adopted).toMatchObject({ exitCode: 3, error: null });
      const all = [...first.lines, ...second.lines];
      expect(byStream(all)).toEqual(byStream(expected.map((line) => ({ stream: line.startsWith('o') ? 'stdout' : 'stderr', line }))));
      expect(await containersOf(s.labels[LABELS.tiId])).toEqual([]);
    });

    it('handed over twice, and adopted after it ended: still every line once', async () => {
      const s = spec(ticking, { docker: { autoRemove: false } });
      const first = hooks();
      const run = ctx.executor.run(s, first);
      await waitUntil('a few lines', async () => first.lines.length >= 4, { timeoutMs: 20_000, intervalMs: 20 });
      expect(run.handOff(LATER)).toBe(true);
      await run.result;
      const find = async () => (await ctx.executor.listTaskContainers(`exec-${ctx.id}`, installation)).find((c) => c.labels[LABELS.tiId] === s.labels[LABELS.tiId])!;
      const second = hooks();
      const run2 = ctx.executor.adopt(await find(), second, { timeoutMs: null });
      await waitUntil('more lines', async () => second.lines.length >= 4, { timeoutMs: 20_000, intervalMs: 20 });
      expect(run2.handOff(LATER)).toBe(true);
      expect(await run2.result).toMatchObject({ handedOff: true });
      const summary = await find();
      await ctx.client.waitContainer(summary.id);
      const third = hooks();
      expect(await ctx.executor.adopt(summary, third, { timeoutMs: null }).result).toMatchObject({ exitCode: 3, error: null });
      expect(third.statuses.join('\n')).toMatch(/ended \(exit code 3\) after its worker handed it over/);
      const all = [...first.lines, ...second.lines, ...third.lines];
      expect(byStream(all)).toEqual(byStream(expected.map((line) => ({ stream: line.startsWith('o') ? 'stdout' : 'stderr', line }))));
    });

    it('one not adopted by its deadline is stopped and removed by a reaper on its engine; one adopted, or within its deadline, is left', async () => {
      const sleeper = 'trap "exit 143" TERM; while true; do echo tick; sleep 0.1; done';
      const handOver = async (untilMs: number) => {
        const s = spec(sleeper, { docker: { autoRemove: false } });
        const h = hooks();
        const run = ctx.executor.run(s, h);
        await waitUntil('a line', async () => h.lines.length >= 1, { timeoutMs: 20_000, intervalMs: 20 });
        expect(run.handOff(untilMs)).toBe(true);
        await run.result;
        return (await ctx.executor.listTaskContainers(`exec-${ctx.id}`, installation)).find((c) => c.labels[LABELS.tiId] === s.labels[LABELS.tiId])!;
      };
      // Adopted before its deadline: the name loses its hand-over suffix, so no reaper takes it for unadopted.
      const adopted = await handOver(Date.now() + 6_000);
      const follower = hooks();
      const adoptedRun = ctx.executor.adopt(adopted, follower, { timeoutMs: null });
      await waitUntil('the adopter to follow it', async () => follower.lines.length >= 1, { timeoutMs: 20_000, intervalMs: 20 });
      expect((await ctx.client.inspectContainer(adopted.id)).Name).toBe(`/${adopted.name.replace(/-handoff-.*$/, '')}`);
      const untilOf = (name: string): number => Number(/-u(\d+)$/.exec(name)![1]);
      // Expired no sooner than the adopted one: a reaper of an older version on this engine (of
      // every installation, as in other test runs) has as little time as possible to take it first.
      const expired = await handOver(Math.max(Date.now() + 1_000, untilOf(adopted.name)));
      const pending = await handOver(LATER);
      const deadline = Math.max(untilOf(expired.name), untilOf(adopted.name));
      await waitUntil('the short deadlines to pass', async () => Date.now() > deadline, { timeoutMs: 20_000, intervalMs: 50 });

      const reaped = await ctx.executor.reapHandedOver({ installation, labels: ctx.labels, graceMs: 1000 });
      expect(reaped.map((c) => c.id)).toEqual([expired.id]);
      const left = (await ctx.client.listContainers(ctx.labels)).map((c) => c.id);
      expect(left).not.toContain(expired.id);
      expect(left).toContain(pending.id);
      expect(left).toContain(adopted.id);

      // Adopting one past its deadline stops and removes it instead of following it.
      const late = await handOver(Date.now() + 500);
      await waitUntil('its deadline to pass', async () => Date.now() > untilOf(late.name), { timeoutMs: 10_000, intervalMs: 50 });
      const tooLate = await ctx.executor.adopt(late, hooks(), { timeoutMs: null }).result;
      expect(tooLate.exitCode).toBeNull();
      expect(tooLate.error).toMatch(/^the container was handed over until \S+ and not adopted in time: stopped and removed, its try is retried as lost/);
      expect((await ctx.client.listContainers(ctx.labels)).map((c) => c.id)).not.toContain(late.id);

      adoptedRun.cancel();
      await adoptedRun.result;
      for (const id of [pending.id, adopted.id]) await ctx.client.removeContainer(id, true).catch(() => undefined);
    });

    it('refuses before the container runs and after it ended', async () => {
      const run = ctx.executor.run(spec('true'), hooks());
      expect(run.handOff(LATER)).toBe(false);
      await run.result;
      expect(run.handOff(LATER)).toBe(false);
    });
  });

  it('reap removes seed containers and unused secrets volumes of a worker of its installation', async () => {
    const worker = `reap-${ctx.id}`;
    const leave = async (installation: string): Promise<void> => {
      const labels = { ...ctx.labels, [LABELS.worker]: worker, [LABELS.installation]: installation };
      await ctx.client.createVolume({ name: `sf-test-${ctx.id}-orphan-${installation}`, labels: { ...labels, [LABELS.role]: 'secrets' }, driverOpts: {} });
      await ctx.client.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { ...labels, [LABELS.role]: 'secrets-seed' } });
    };
    const [mine, other] = [`a-${ctx.id}.swarmflow`, `b-${ctx.id}.swarmflow`];
    await leave(mine);
    await leave(other);
    const installations = async () => ({
      volumes: (await ctx.client.listVolumes({ ...ctx.labels, [LABELS.worker]: worker })).map((v) => v.labels[LABELS.installation]),
      containers: (await ctx.client.listContainers({ ...ctx.labels, [LABELS.worker]: worker })).map((c) => c.labels[LABELS.installation]),
    });
    expect(await ctx.executor.reap(worker, mine)).toEqual({ seeds: 1, volumes: 1 });
    // A worker of the same name in another installation on the same engine keeps its own.
    expect(await installations()).toEqual({ volumes: [other], containers: [other] });
    expect(await ctx.executor.reap(worker, other)).toEqual({ seeds: 1, volumes: 1 });
    expect(await installations()).toEqual({ volumes: [], containers: [] });
  });
});
