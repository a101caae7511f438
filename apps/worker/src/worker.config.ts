import { MAX_OUTPUT_BYTES_LIMIT, parseDuration } from '@swarmflow/core';
import { DEFAULT_CONTAINER_POLICY, installationOf, type ContainerPolicy, type RunAsUser } from '@swarmflow/executors';
import { ClusterKey, ConfigError } from '@swarmflow/secrets';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { WorkerOptions } from './worker.service';

/** A bad setting, found at boot; names the environment variable or flag to fix. */
export class WorkerConfigError extends Error {
  override name = 'WorkerConfigError';

  constructor(
    /** `SWARMFLOW_WORKER_CONCURRENCY`, `--queues`, … */
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

export interface WorkerConfig {
  amqpUrl: string;
  /**
   * Prepended to exchange and queue names (one RabbitMQ, several installations or test
   * runs); it also names the installation on the worker's containers (`worker.installation`).
   */
  brokerPrefix: string | undefined;
  worker: WorkerOptions;
  /** Verifies task messages and opens the secrets of container tasks; required. */
  clusterKey: ClusterKey;
}

/** Command-line values; they win over the environment. */
export interface WorkerArgs {
  queues?: string;
  concurrency?: string;
  name?: string;
  /** GPU ids, comma-separated (`0,1,2,3`), or `none`. */
  gpus?: string;
  /** Host path prefixes container tasks may bind-mount, comma-separated, or `any`. */
  allowMounts?: string;
  /** `true`: container tasks may use `network: host` (a flag without value). */
  allowHostNetwork?: string;
  /** `true`: containers run without `no-new-privileges`. */
  allowPrivileged?: string;
  /** OCI runtimes container tasks may ask for, comma-separated, `any` or `none`. */
  allowRuntimes?: string;
  /** Processes a container may hold; 0 = no limit. */
  pidsLimit?: string;
  /** User (name or `uid[:gid]`) process tasks run as. */
  runAsUser?: string;
}

/** The worker's flags (`--allow-mounts` ↔ `allowMounts`); those marked true take no value. */
const FLAGS: Record<string, { key: keyof WorkerArgs; boolean?: true }> = {
  queues: { key: 'queues' }, concurrency: { key: 'concurrency' }, name: { key: 'name' }, gpus: { key: 'gpus' },
  'allow-mounts': { key: 'allowMounts' }, 'allow-host-network': { key: 'allowHostNetwork', boolean: true },
  'allow-privileged': { key: 'allowPrivileged', boolean: true }, 'allow-runtimes': { key: 'allowRuntimes' },
  'pids-limit': { key: 'pidsLimit' }, 'run-as-user': { key: 'runAsUser' },
};
const FLAG_OF = Object.fromEntries(Object.entries(FLAGS).map(([flag, { key }]) => [key, flag])) as Record<keyof WorkerArgs, string>;

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const MAX_CONCURRENCY = 1024;
/** Queue and worker names become routing-key words: no AMQP wildcards, no spaces. */
const NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * Builds and validates the worker's configuration from the environment
 * (`SWARMFLOW_AMQP_URL`, `SWARMFLOW_BROKER_PREFIX`, `SWARMFLOW_WORKER_QUEUES`,
 * `SWARMFLOW_WORKER_CONCURRENCY`, `SWARMFLOW_WORKER_NAME`, `SWARMFLOW_HEARTBEAT_INTERVAL`,
 * `SWARMFLOW_WORKER_GPUS`, `SWARMFLOW_WORKER_LOG_LIMIT`, `SWARMFLOW_WORKER_STOP_TIMEOUT`, `SWARMFLOW_WORKER_STOP_GRACE`, `SWARMFLOW_HANDOFF_TIMEOUT`, `SWARMFLOW_MAX_OUTPUT_BYTES`, `SWARMFLOW_CLUSTER_KEY` / `SWARMFLOW_CLUSTER_KEY_FILE` (required: task
 * messages are verified with it), `SWARMFLOW_TASK_MESSAGE_MAX_AGE`) and command-line values.
 * GPUs not given are the ones Docker Swarm assigned (`DOCKER_RESOURCE_NVIDIA-GPU`, named generic resources),
 * else discovered with `discoverGpus` (default: `nvidia-smi`, none without it).
 * Throws {@link WorkerConfigError} naming the first bad variable or flag.
 */
export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  args: WorkerArgs = {},
  discoverGpus: () => string[] = discoverNvidiaGpus,
): WorkerConfig {
  const host = hostname();
  const setting = (flag: keyof WorkerArgs, variable: string): { source: string; value: string | undefined } =>
    args[flag] !== undefined ? { source: `--${FLAG_OF[flag]}`, value: args[flag] } : { source: variable, value: nonEmpty(env[variable]) };

  const amqpUrl = nonEmpty(env.SWARMFLOW_AMQP_URL) ?? DEFAULT_AMQP_URL;
  if (!/^amqps?:\/\/[^/]/.test(amqpUrl) || !URL.canParse(amqpUrl)) {
    // Never echo the value: it holds the broker password.
    throw new WorkerConfigError('SWARMFLOW_AMQP_URL', 'must be an amqp:// or amqps:// URL, such as amqp://user:password@rabbitmq:5672/vhost');
  }
  const prefix = env.SWARMFLOW_BROKER_PREFIX;
  if (prefix !== undefined && prefix !== '' && !NAME_PATTERN.test(prefix)) {
    throw new WorkerConfigError('SWARMFLOW_BROKER_PREFIX', `may hold letters, digits, '_', '-' and '.', got ${JSON.stringify(prefix)}`);
  }

  const queuesSetting = setting('queues', 'SWARMFLOW_WORKER_QUEUES');
  const queues = (queuesSetting.value ?? 'default').split(',').map((q) => q.trim()).filter((q) => q !== '');
  if (queues.length === 0) throw new WorkerConfigError(queuesSetting.source, 'lists no queue; give a comma-separated list such as default,gpu');
  const badQueue = queues.find((q) => !NAME_PATTERN.test(q));
  if (badQueue !== undefined) {
    throw new WorkerConfigError(queuesSetting.source, `queue ${JSON.stringify(badQueue)} may hold letters, digits, '_', '-' and '.' only`);
  }

  const concurrencySetting = setting('concurrency', 'SWARMFLOW_WORKER_CONCURRENCY');
  const concurrencyText = concurrencySetting.value ?? '4';
  const concurrency = /^\d+$/.test(concurrencyText) ? Number(concurrencyText) : NaN;
  if (!(concurrency >= 1 && concurrency <= MAX_CONCURRENCY)) {
    throw new WorkerConfigError(concurrencySetting.source, `must be an integer from 1 to ${MAX_CONCURRENCY}, got ${JSON.stringify(concurrencyText)}`);
  }

  const nameSetting = setting('name', 'SWARMFLOW_WORKER_NAME');
  const name = nameSetting.value ?? `${host}-${process.pid}`;
  if (!NAME_PATTERN.test(name)) {
    throw new WorkerConfigError(nameSetting.source, `may hold letters, digits, '_', '-' and '.', got ${JSON.stringify(name)}`);
  }

  const interval = nonEmpty(env.SWARMFLOW_HEARTBEAT_INTERVAL) ?? '5s';
  let heartbeatIntervalMs: number;
  try {
    heartbeatIntervalMs = parseDuration(interval, 'SWARMFLOW_HEARTBEAT_INTERVAL');
  } catch {
    throw new WorkerConfigError('SWARMFLOW_HEARTBEAT_INTERVAL', `must be a duration such as 5s or 500ms, got ${JSON.stringify(interval)}`);
  }

  const gpusSetting = setting('gpus', 'SWARMFLOW_WORKER_GPUS');
  // On Docker Swarm, the GPUs a service reserves as named generic resources reach the task as
  // DOCKER_RESOURCE_NVIDIA-GPU=<id>,<id>; a bare count (a discrete resource) names no GPU.
  const swarmGpus = nonEmpty(env['DOCKER_RESOURCE_NVIDIA-GPU']);
  const gpus = gpusSetting.value !== undefined ? parseGpus(gpusSetting.source, gpusSetting.value)
    : swarmGpus !== undefined && !/^\d+$/.test(swarmGpus) ? parseGpus('DOCKER_RESOURCE_NVIDIA-GPU', swarmGpus) : discoverGpus();

  const logLimitChars = parseLogLimit(nonEmpty(env.SWARMFLOW_WORKER_LOG_LIMIT));
  const maxOutputText = nonEmpty(env.SWARMFLOW_MAX_OUTPUT_BYTES);
  const maxOutputBytes = maxOutputText === undefined ? undefined : Number(maxOutputText);
  if (maxOutputBytes !== undefined && (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 2 || maxOutputBytes > MAX_OUTPUT_BYTES_LIMIT)) {
    throw new WorkerConfigError('SWARMFLOW_MAX_OUTPUT_BYTES', `must be a whole number of bytes from 2 to ${MAX_OUTPUT_BYTES_LIMIT}, got ${JSON.stringify(maxOutputText)}`);
  }

  let clusterKey: ClusterKey | null;
  try {
    clusterKey = ClusterKey.fromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new WorkerConfigError(err.variable, err.problem);
    throw err;
  }
  if (clusterKey === null) {
    throw new WorkerConfigError('SWARMFLOW_CLUSTER_KEY', 'not set: the worker runs only task messages signed with the cluster key. ' +
      'Fix: give it the scheduler\'s key, SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE (a Docker secret)');
  }

  const maxAge = nonEmpty(env.SWARMFLOW_TASK_MESSAGE_MAX_AGE) ?? '24h';
  let maxMessageAgeMs: number;
  try {
    maxMessageAgeMs = parseDuration(maxAge, 'SWARMFLOW_TASK_MESSAGE_MAX_AGE');
  } catch {
    throw new WorkerConfigError('SWARMFLOW_TASK_MESSAGE_MAX_AGE', `must be a duration such as 24h or 30m, got ${JSON.stringify(maxAge)}`);
  }

  const stopTimeoutText = nonEmpty(env.SWARMFLOW_WORKER_STOP_TIMEOUT);
  let stopTimeoutMs: number | undefined;
  if (stopTimeoutText !== undefined) {
    try {
      stopTimeoutMs = parseDuration(stopTimeoutText, 'SWARMFLOW_WORKER_STOP_TIMEOUT');
    } catch {
      throw new WorkerConfigError('SWARMFLOW_WORKER_STOP_TIMEOUT', `must be a duration such as 8s or 500ms, got ${JSON.stringify(stopTimeoutText)}`);
    }
  }

  // Docker Swarm's stop_grace_period of the service (Compose durations: 2m, 90s, 1m30s).
  const stopGraceText = nonEmpty(env.SWARMFLOW_WORKER_STOP_GRACE);
  let stopGraceMs: number | undefined;
  if (stopGraceText !== undefined) {
    try {
      stopGraceMs = parseDuration(stopGraceText, 'SWARMFLOW_WORKER_STOP_GRACE');
    } catch {
      throw new WorkerConfigError('SWARMFLOW_WORKER_STOP_GRACE', `must be a duration such as 2m or 90s (the stop_grace_period), got ${JSON.stringify(stopGraceText)}`);
    }
  }

  // How long containers a stopping worker hands over wait for the next worker of its name (then they are stopped, their tries retried).
  const handOffText = nonEmpty(env.SWARMFLOW_HANDOFF_TIMEOUT);
  let handOffTimeoutMs: number | undefined;
  if (handOffText !== undefined) {
    try {
      handOffTimeoutMs = parseDuration(handOffText, 'SWARMFLOW_HANDOFF_TIMEOUT');
    } catch {
      throw new WorkerConfigError('SWARMFLOW_HANDOFF_TIMEOUT', `must be a duration such as 5m or 90s, got ${JSON.stringify(handOffText)}`);
    }
  }

  const containerPolicy = loadContainerPolicy(setting);
  const runAsSetting = setting('runAsUser', 'SWARMFLOW_WORKER_RUN_AS_USER');
  const runAs = runAsSetting.value === undefined ? null : resolveUser(runAsSetting.source, runAsSetting.value, readPasswd, currentUid);

  return {
    amqpUrl,
    brokerPrefix: prefix === '' ? undefined : prefix,
    worker: {
      name, installation: installationOf(prefix), hostname: host, queues: [...new Set(queues)], concurrency, heartbeatIntervalMs, gpus, maxMessageAgeMs, containerPolicy, runAs,
      ...(logLimitChars !== undefined ? { logLimitChars } : {}),
      ...(maxOutputBytes !== undefined ? { maxOutputBytes } : {}),
      ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
      ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
      ...(handOffTimeoutMs !== undefined ? { handOffTimeoutMs } : {}),
    },
    clusterKey,
  };
}

/** `SWARMFLOW_WORKER_LOG_LIMIT`: output kept per try, `100MB` (the default), `512KB`, `1GB` or a count of characters. */
function parseLogLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\s*(|K|KB|KiB|M|MB|MiB|G|GB|GiB)$/i.exec(text);
  const unit = match ? ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[match[2].charAt(0).toLowerCase()] : undefined;
  const value = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!(value >= 1024)) {
    throw new WorkerConfigError('SWARMFLOW_WORKER_LOG_LIMIT', `must be a size of at least 1KB such as 100MB, 512KB or 1GB, got ${JSON.stringify(text)}`);
  }
  return value;
}

type Setting = (flag: keyof WorkerArgs, variable: string) => { source: string; value: string | undefined };

/** `--allow-mounts`, `--allow-host-network`, `--allow-privileged`, `--allow-runtimes`, `--pids-limit` and their variables. */
function loadContainerPolicy(setting: Setting): ContainerPolicy {
  const list = (s: { value: string | undefined }): string[] => (s.value ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
  const mounts = setting('allowMounts', 'SWARMFLOW_WORKER_ALLOW_MOUNTS');
  let allowMounts: ContainerPolicy['allowMounts'] = DEFAULT_CONTAINER_POLICY.allowMounts;
  if (mounts.value === 'any') allowMounts = 'any';
  else if (mounts.value !== undefined && mounts.value !== 'none') {
    allowMounts = list(mounts);
    const bad = allowMounts.find((p) => !p.startsWith('/'));
    if (bad !== undefined) throw new WorkerConfigError(mounts.source, `${JSON.stringify(bad)} is not an absolute host path: give path prefixes such as /data,/scratch, or any, or none`);
  }
  const runtimes = setting('allowRuntimes', 'SWARMFLOW_WORKER_ALLOW_RUNTIMES');
  const allowRuntimes = runtimes.value === undefined ? DEFAULT_CONTAINER_POLICY.allowRuntimes
    : runtimes.value === 'any' ? 'any' : runtimes.value === 'none' ? [] : list(runtimes);
  const pids = setting('pidsLimit', 'SWARMFLOW_CONTAINER_PIDS_LIMIT');
  const pidsLimit = pids.value === undefined ? DEFAULT_CONTAINER_POLICY.pidsLimit : /^\d+$/.test(pids.value) ? Number(pids.value) : NaN;
  if (!Number.isSafeInteger(pidsLimit)) throw new WorkerConfigError(pids.source, `must be a whole number (0 = no limit), got ${JSON.stringify(pids.value)}`);
  return {
    allowMounts, allowRuntimes, pidsLimit,
    allowHostNetwork: flag(setting('allowHostNetwork', 'SWARMFLOW_WORKER_ALLOW_HOST_NETWORK')),
    allowPrivileged: flag(setting('allowPrivileged', 'SWARMFLOW_WORKER_ALLOW_PRIVILEGED')),
  };
}

function flag(s: { source: string; value: string | undefined }): boolean {
  if (s.value === undefined || s.value === 'false' || s.value === '0') return false;
  if (s.value === 'true' || s.value === '1') return true;
  throw new WorkerConfigError(s.source, `must be true or false, got ${JSON.stringify(s.value)}`);
}

function readPasswd(): string {
  return readFileSync('/etc/passwd', 'utf8');
}

function currentUid(): number {
  return process.getuid?.() ?? -1;
}

/**
 * The user of `--run-as-user`: a name in /etc/passwd, or `uid[:gid]` (gid: the user's
 * group in /etc/passwd, else the uid). Needs a root worker unless it is the worker's own user.
 */
export function resolveUser(source: string, text: string, passwd: () => string = readPasswd, uid: () => number = currentUid): RunAsUser {
  const entries = passwd().split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7);
  const numeric = /^(\d+)(?::(\d+))?$/.exec(text);
  const entry = numeric ? entries.find((f) => f[2] === numeric[1]) : entries.find((f) => f[0] === text);
  if (!numeric && !entry) throw new WorkerConfigError(source, `no user ${JSON.stringify(text)} in /etc/passwd: give a user name or a uid[:gid]`);
  const user: RunAsUser = numeric
    ? { uid: Number(numeric[1]), gid: Number(numeric[2] ?? entry?.[3] ?? numeric[1]), name: entry?.[0] ?? numeric[1], home: entry?.[5] ?? '/' }
    : { uid: Number(entry![2]), gid: Number(entry![3]), name: entry![0], home: entry![5] };
  if (uid() !== 0 && uid() !== user.uid) {
    throw new WorkerConfigError(source, `running tasks as ${user.name} (uid ${user.uid}) needs a worker running as root; this one runs as uid ${uid()}`);
  }
  return user;
}

/** `0,1,2,3` (ids or GPU UUIDs as nvidia-smi prints them); `none` = no GPU. */
function parseGpus(source: string, text: string): string[] {
  if (text === 'none') return [];
  const ids = text.split(',').map((id) => id.trim()).filter((id) => id !== '');
  const bad = ids.find((id) => !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(id));
  if (bad !== undefined) throw new WorkerConfigError(source, `GPU id ${JSON.stringify(bad)} may hold letters, digits, '_', '.', ':' and '-' only; give ids such as 0,1,2,3 or none`);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw new WorkerConfigError(source, `lists GPU ${twice} twice`);
  return ids;
}

/**
 * GPU indexes from `nvidia-smi --query-gpu=index --format=csv,noheader`; none when the
 * binary is missing or fails (a CPU-only host).
 */
export function discoverNvidiaGpus(run: (file: string, args: string[]) => string = (file, args) =>
  execFileSync(file, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })): string[] {
  try {
    return run('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader']).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  } catch {
    return [];
  }
}

/**
 * Reads `--queues a,b`, `--concurrency N`, `--name X`, `--gpus 0,1`, `--allow-mounts /data`,
 * `--allow-runtimes nvidia`, `--pids-limit N`, `--run-as-user U` (also `--flag=value`) and
 * `--allow-host-network`, `--allow-privileged` (no value).
 * Throws {@link WorkerConfigError} on an unknown flag or a missing value.
 */
export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const args: WorkerArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const spec = match ? FLAGS[match[1]] : undefined;
    if (!match || !spec) throw new WorkerConfigError(argv[i], `unknown argument; the worker takes ${Object.keys(FLAGS).map((f) => `--${f}`).join(', ')}`);
    if (spec.boolean) {
      args[spec.key] = match[2] ?? 'true';
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined || value.startsWith('--')) throw new WorkerConfigError(`--${match[1]}`, 'needs a value');
    args[spec.key] = value;
  }
  return args;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
