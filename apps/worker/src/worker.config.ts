import { parseDuration } from '@swarmflow/core';
import { ClusterKey, ConfigError } from '@swarmflow/secrets';
import { execFileSync } from 'node:child_process';
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
  /** Prepended to exchange and queue names (one RabbitMQ, several installations or test runs). */
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
}

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const MAX_CONCURRENCY = 1024;
/** Queue and worker names become routing-key words: no AMQP wildcards, no spaces. */
const NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * Builds and validates the worker's configuration from the environment
 * (`SWARMFLOW_AMQP_URL`, `SWARMFLOW_BROKER_PREFIX`, `SWARMFLOW_WORKER_QUEUES`,
 * `SWARMFLOW_WORKER_CONCURRENCY`, `SWARMFLOW_WORKER_NAME`, `SWARMFLOW_HEARTBEAT_INTERVAL`,
 * `SWARMFLOW_WORKER_GPUS`, `SWARMFLOW_CLUSTER_KEY` / `SWARMFLOW_CLUSTER_KEY_FILE` (required: task
 * messages are verified with it), `SWARMFLOW_TASK_MESSAGE_MAX_AGE`) and command-line values.
 * GPUs not given are discovered with `discoverGpus` (default: `nvidia-smi`, none without it).
 * Throws {@link WorkerConfigError} naming the first bad variable or flag.
 */
export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  args: WorkerArgs = {},
  discoverGpus: () => string[] = discoverNvidiaGpus,
): WorkerConfig {
  const host = hostname();
  const setting = (flag: keyof WorkerArgs, variable: string): { source: string; value: string | undefined } =>
    args[flag] !== undefined ? { source: `--${flag}`, value: args[flag] } : { source: variable, value: nonEmpty(env[variable]) };

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
  const gpus = gpusSetting.value === undefined ? discoverGpus() : parseGpus(gpusSetting.source, gpusSetting.value);

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

  return {
    amqpUrl,
    brokerPrefix: prefix === '' ? undefined : prefix,
    worker: { name, hostname: host, queues: [...new Set(queues)], concurrency, heartbeatIntervalMs, gpus, maxMessageAgeMs },
    clusterKey,
  };
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
 * Reads `--queues a,b`, `--concurrency N`, `--name X`, `--gpus 0,1` (also `--flag=value`).
 * Throws {@link WorkerConfigError} on an unknown flag or a missing value.
 */
export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const args: WorkerArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--(queues|concurrency|name|gpus)(?:=(.*))?$/.exec(argv[i]);
    if (!match) throw new WorkerConfigError(argv[i], 'unknown argument; the worker takes --queues, --concurrency, --name and --gpus');
    const value = match[2] ?? argv[++i];
    if (value === undefined || value.startsWith('--')) throw new WorkerConfigError(`--${match[1]}`, 'needs a value');
    args[match[1] as keyof WorkerArgs] = value;
  }
  return args;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
