import { hostname } from 'node:os';
import { ClusterKey } from '@swarmflow/secrets';
import { discoverNvidiaGpus, loadWorkerConfig, parseWorkerArgs, resolveUser, WorkerConfigError } from './worker.config';

const KEY = ClusterKey.generate().toBase64();
/** The worker needs a cluster key: every case but the key's own gets one. */
const load = (env: NodeJS.ProcessEnv, args?: Parameters<typeof loadWorkerConfig>[1], gpus?: Parameters<typeof loadWorkerConfig>[2]) =>
  loadWorkerConfig({ SWARMFLOW_CLUSTER_KEY: KEY, ...env }, args, gpus);

describe('loadWorkerConfig', () => {
  it('has defaults for everything', () => {
    expect(load({}, {}, () => [])).toEqual({
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      brokerPrefix: undefined,
      worker: {
        name: `${hostname()}-${process.pid}`, installation: 'swarmflow', hostname: hostname(), queues: ['default'], concurrency: 4, heartbeatIntervalMs: 5000, gpus: [],
        maxMessageAgeMs: 24 * 3600_000, runAs: null,
        containerPolicy: { allowMounts: [], allowHostNetwork: false, allowPrivileged: false, allowRuntimes: ['nvidia'], pidsLimit: 4096 },
      },
      clusterKey: expect.any(ClusterKey),
    });
  });

  it('reads the environment, and flags win over it', () => {
    const env = {
      SWARMFLOW_AMQP_URL: 'amqps://u:p@rabbit:5671/vh', SWARMFLOW_BROKER_PREFIX: 'test1.',
      SWARMFLOW_WORKER_QUEUES: ' gpu , default,gpu', SWARMFLOW_WORKER_CONCURRENCY: '8', SWARMFLOW_WORKER_NAME: 'w-1',
    };
    expect(load(env)).toMatchObject({
      amqpUrl: 'amqps://u:p@rabbit:5671/vh', brokerPrefix: 'test1.', worker: { name: 'w-1', installation: 'test1.swarmflow', queues: ['gpu', 'default'], concurrency: 8 },
    });
    expect(load(env, parseWorkerArgs(['--queues', 'highmem', '--concurrency=2']))).toMatchObject({
      worker: { name: 'w-1', queues: ['highmem'], concurrency: 2 },
    });
  });

  it('reads the per-try log limit', () => {
    expect(load({ SWARMFLOW_WORKER_LOG_LIMIT: '5MB' }, {}, () => []).worker.logLimitChars).toBe(5 * 1024 * 1024);
    expect(load({ SWARMFLOW_WORKER_LOG_LIMIT: '2048' }, {}, () => []).worker.logLimitChars).toBe(2048);
    expect(() => load({ SWARMFLOW_WORKER_LOG_LIMIT: 'lots' }, {}, () => [])).toThrow(
      'SWARMFLOW_WORKER_LOG_LIMIT: must be a size of at least 1KB such as 100MB, 512KB or 1GB, got "lots"');
  });

  it.each([
    [{ SWARMFLOW_WORKER_CONCURRENCY: '0' }, 'SWARMFLOW_WORKER_CONCURRENCY: must be an integer from 1 to 1024, got "0"'],
    [{ SWARMFLOW_WORKER_CONCURRENCY: '2.5' }, 'SWARMFLOW_WORKER_CONCURRENCY: must be an integer from 1 to 1024, got "2.5"'],
    [{ SWARMFLOW_WORKER_QUEUES: ',' }, 'SWARMFLOW_WORKER_QUEUES: lists no queue; give a comma-separated list such as default,gpu'],
    [{ SWARMFLOW_WORKER_QUEUES: 'default,gpu.#' }, `SWARMFLOW_WORKER_QUEUES: queue "gpu.#" may hold letters, digits, '_', '-' and '.' only`],
    [{ SWARMFLOW_WORKER_NAME: 'a b' }, `SWARMFLOW_WORKER_NAME: may hold letters, digits, '_', '-' and '.', got "a b"`],
    [{ SWARMFLOW_AMQP_URL: 'http://x:secret@y' }, 'SWARMFLOW_AMQP_URL: must be an amqp:// or amqps:// URL, such as amqp://user:password@rabbitmq:5672/vhost'],
    [{ SWARMFLOW_BROKER_PREFIX: 'a/b' }, `SWARMFLOW_BROKER_PREFIX: may hold letters, digits, '_', '-' and '.', got "a/b"`],
  ])('fails on %j naming the variable', (env, message) => {
    expect(() => load(env)).toThrow(new WorkerConfigError(message.split(':')[0], message.slice(message.indexOf(': ') + 2)));
    expect(() => load(env)).toThrow(message);
  });

  it('names the flag when a flag is bad', () => {
    expect(() => load({}, { concurrency: 'many' })).toThrow('--concurrency: must be an integer from 1 to 1024, got "many"');
  });

  describe('GPUs', () => {
    it('discovers them when neither --gpus nor SWARMFLOW_WORKER_GPUS is set', () => {
      expect(load({}, {}, () => ['0', '1']).worker.gpus).toEqual(['0', '1']);
    });

    it('takes the GPUs Docker Swarm assigned (named generic resources) unless told, and ignores a bare count', () => {
      const discover = () => ['9'];
      expect(load({ 'DOCKER_RESOURCE_NVIDIA-GPU': 'GPU-aaaa,GPU-bbbb' }, {}, discover).worker.gpus).toEqual(['GPU-aaaa', 'GPU-bbbb']);
      expect(load({ 'DOCKER_RESOURCE_NVIDIA-GPU': '2' }, {}, discover).worker.gpus).toEqual(['9']);
      expect(load({ 'DOCKER_RESOURCE_NVIDIA-GPU': 'GPU-aaaa', SWARMFLOW_WORKER_GPUS: '0' }, {}, discover).worker.gpus).toEqual(['0']);
    });

    it('reads SWARMFLOW_WORKER_GPUS, and --gpus wins over it; none means none', () => {
      const discover = (): string[] => { throw new Error('must not discover'); };
      expect(load({ SWARMFLOW_WORKER_GPUS: '0, 1,2,3' }, {}, discover).worker.gpus).toEqual(['0', '1', '2', '3']);
      expect(load({ SWARMFLOW_WORKER_GPUS: '0,1' }, parseWorkerArgs(['--gpus', '2,3']), discover).worker.gpus).toEqual(['2', '3']);
      expect(load({ SWARMFLOW_WORKER_GPUS: 'none' }, {}, discover).worker.gpus).toEqual([]);
      expect(load({}, { gpus: 'GPU-8f2a1c3e-0000-1111-2222-333344445555' }, discover).worker.gpus).toEqual(['GPU-8f2a1c3e-0000-1111-2222-333344445555']);
    });

    it('names the setting of a bad or repeated id', () => {
      expect(() => load({ SWARMFLOW_WORKER_GPUS: '0,1,0' })).toThrow('SWARMFLOW_WORKER_GPUS: lists GPU 0 twice');
      expect(() => load({}, { gpus: '0;1' })).toThrow(`--gpus: GPU id "0;1" may hold letters, digits, '_', '.', ':' and '-' only; give ids such as 0,1,2,3 or none`);
    });

    it('discovers with nvidia-smi, and finds none without it', () => {
      const calls: string[] = [];
      expect(discoverNvidiaGpus((file, args) => { calls.push([file, ...args].join(' ')); return '0\n1\n'; })).toEqual(['0', '1']);
      expect(calls).toEqual(['nvidia-smi --query-gpu=index --format=csv,noheader']);
      expect(discoverNvidiaGpus(() => { throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }); })).toEqual([]);
    });
  });

  it('loads the cluster key, naming the variable when it is bad', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(load({ SWARMFLOW_CLUSTER_KEY: key }, {}, () => []).clusterKey!.toBase64()).toBe(key);
    expect(() => load({ SWARMFLOW_CLUSTER_KEY: 'short' }, {}, () => [])).toThrow(new WorkerConfigError('SWARMFLOW_CLUSTER_KEY', 'is not base64: it must hold a base64-encoded 32-byte key (generate one with `openssl rand -base64 32`)'));
  });

  it('refuses to start without a cluster key: it could verify no task message', () => {
    expect(() => loadWorkerConfig({}, {}, () => [])).toThrow(/^SWARMFLOW_CLUSTER_KEY: not set: the worker runs only task messages signed with the cluster key\. Fix: /);
  });

  it('reads the max age of a task message', () => {
    expect(load({ SWARMFLOW_TASK_MESSAGE_MAX_AGE: '30m' }, {}, () => []).worker.maxMessageAgeMs).toBe(30 * 60_000);
    expect(() => load({ SWARMFLOW_TASK_MESSAGE_MAX_AGE: 'soon' }, {}, () => [])).toThrow('SWARMFLOW_TASK_MESSAGE_MAX_AGE: must be a duration such as 24h or 30m, got "soon"');
  });

  it('reads how long a stop waits for an unreachable broker (unset: the worker\'s default)', () => {
    expect(load({}, {}, () => []).worker.stopTimeoutMs).toBeUndefined();
    expect(load({ SWARMFLOW_WORKER_STOP_TIMEOUT: '3s' }, {}, () => []).worker.stopTimeoutMs).toBe(3000);
    expect(() => load({ SWARMFLOW_WORKER_STOP_TIMEOUT: 'never' }, {}, () => [])).toThrow('SWARMFLOW_WORKER_STOP_TIMEOUT: must be a duration such as 8s or 500ms, got "never"');
  });

  it('reads the stop grace period its supervisor gives it (Compose durations; unset: none, no hand-over)', () => {
    expect(load({}, {}, () => []).worker.stopGraceMs).toBeUndefined();
    expect(load({ SWARMFLOW_WORKER_STOP_GRACE: '2m' }, {}, () => []).worker.stopGraceMs).toBe(120_000);
    expect(load({ SWARMFLOW_WORKER_STOP_GRACE: '1m30s' }, {}, () => []).worker.stopGraceMs).toBe(90_000);
    expect(() => load({ SWARMFLOW_WORKER_STOP_GRACE: 'long' }, {}, () => [])).toThrow('SWARMFLOW_WORKER_STOP_GRACE: must be a duration such as 2m or 90s (the stop_grace_period), got "long"');
    expect(load({ SWARMFLOW_HANDOFF_TIMEOUT: '90s' }, {}, () => []).worker.handOffTimeoutMs).toBe(90_000);
    expect(load({}, {}, () => []).worker.handOffTimeoutMs).toBeUndefined();
    expect(() => load({ SWARMFLOW_HANDOFF_TIMEOUT: 'soon' }, {}, () => [])).toThrow('SWARMFLOW_HANDOFF_TIMEOUT: must be a duration such as 5m or 90s, got "soon"');
  });

  it('never echoes the AMQP URL, which holds the password', () => {
    expect(() => load({ SWARMFLOW_AMQP_URL: 'rabbit://u:hunter2@h' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });
});

describe('container policy and task user', () => {
  it('reads the policy from flags (which win) and the environment', () => {
    const env = {
      SWARMFLOW_WORKER_ALLOW_MOUNTS: '/data, /scratch', SWARMFLOW_WORKER_ALLOW_HOST_NETWORK: 'true', SWARMFLOW_WORKER_ALLOW_RUNTIMES: 'any',
      SWARMFLOW_CONTAINER_PIDS_LIMIT: '0',
    };
    expect(load(env, {}, () => []).worker.containerPolicy).toEqual({
      allowMounts: ['/data', '/scratch'], allowHostNetwork: true, allowPrivileged: false, allowRuntimes: 'any', pidsLimit: 0,
    });
    const args = parseWorkerArgs(['--allow-mounts', 'any', '--allow-privileged', '--allow-runtimes=none', '--pids-limit', '100']);
    expect(load(env, args, () => []).worker.containerPolicy).toEqual({
      allowMounts: 'any', allowHostNetwork: true, allowPrivileged: true, allowRuntimes: [], pidsLimit: 100,
    });
  });

  it('names the setting of a bad value', () => {
    expect(() => load({ SWARMFLOW_WORKER_ALLOW_MOUNTS: 'data' }, {}, () => [])).toThrow('SWARMFLOW_WORKER_ALLOW_MOUNTS: "data" is not an absolute host path');
    expect(() => load({}, { allowHostNetwork: 'yes' }, () => [])).toThrow('--allow-host-network: must be true or false, got "yes"');
    expect(() => load({ SWARMFLOW_CONTAINER_PIDS_LIMIT: '-1' }, {}, () => [])).toThrow('SWARMFLOW_CONTAINER_PIDS_LIMIT: must be a whole number (0 = no limit), got "-1"');
  });

  it('resolves --run-as-user by name or uid, and needs a root worker for another user', () => {
    const passwd = () => 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
    expect(resolveUser('--run-as-user', 'nobody', passwd, () => 0)).toEqual({ name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' });
    expect(resolveUser('--run-as-user', '1000:100', passwd, () => 0)).toEqual({ name: '1000', uid: 1000, gid: 100, home: '/' });
    expect(() => resolveUser('--run-as-user', 'ghost', passwd, () => 0)).toThrow('--run-as-user: no user "ghost" in /etc/passwd');
    expect(() => resolveUser('SWARMFLOW_WORKER_RUN_AS_USER', 'nobody', passwd, () => 1000))
      .toThrow('SWARMFLOW_WORKER_RUN_AS_USER: running tasks as nobody (uid 65534) needs a worker running as root; this one runs as uid 1000');
  });
});

describe('parseWorkerArgs', () => {
  it('reads --queues, --concurrency and --name', () => {
    expect(parseWorkerArgs(['--queues', 'default,gpu', '--concurrency', '4', '--name=w9'])).toEqual({ queues: 'default,gpu', concurrency: '4', name: 'w9' });
  });

  it('rejects unknown flags and missing values', () => {
    expect(() => parseWorkerArgs(['--queue', 'x'])).toThrow('--queue: unknown argument; the worker takes --queues, --concurrency, --name, --gpus, ' +
      '--allow-mounts, --allow-host-network, --allow-privileged, --allow-runtimes, --pids-limit, --run-as-user');
    expect(() => parseWorkerArgs(['--concurrency'])).toThrow('--concurrency: needs a value');
  });
});
