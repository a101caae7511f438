import { parseArtifactsUrl, parseDuration } from '@swarmflow/core';

export interface SchedulerConfig {
  databaseUrl: string;
  amqpUrl: string;
  brokerPrefix: string;
  dagsFolder: string;
  dagParseIntervalMs: number;
  dagFileTimeoutMs: number;
  /** Memory one DAG file's import may use, in MiB (SWARMFLOW_DAG_FILE_MEMORY, default 1024). */
  dagFileMemoryMb: number;
  tickMs: number;
  heartbeatTimeoutMs: number;
  /** SchedulingOptions.eventCoalesceMs: how long an iteration may wait for more tasks' ends under load. */
  eventCoalesceMs: number;
  /** SchedulingOptions.workerGoneMs: a worker whose broker connection stays closed this long is lost (0 = off). */
  workerGoneMs: number;
  /** SWARMFLOW_ARTIFACTS_URL: s3://bucket/prefix or file:///folder; each try gets a prefix under it. Null = none. */
  artifactsUrl: string | null;
}

/** Raised at boot for a bad environment; names the variable and the fix. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string, fix: string) {
    super(`${variable} ${problem}. Fix: ${fix}`);
    this.name = 'ConfigError';
  }
}

function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] ?? fallback;
  try {
    return parseDuration(raw, name);
  } catch {
    throw new ConfigError(name, `is not a duration (got "${raw}")`, `use e.g. ${fallback}, 500ms, 5m`);
  }
}

function megabytes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 64) throw new ConfigError(name, `must be a whole number of MiB, at least 64 (got "${raw}")`, `use e.g. ${fallback}`);
  return Number(raw);
}

/** SWARMFLOW_ARTIFACTS_URL, checked; null when unset or blank. */
function artifactsUrl(env: NodeJS.ProcessEnv): string | null {
  const raw = env.SWARMFLOW_ARTIFACTS_URL?.trim();
  if (!raw) return null;
  try {
    parseArtifactsUrl(raw);
  } catch (err) {
    throw new ConfigError('SWARMFLOW_ARTIFACTS_URL', (err as Error).message.replace(/^artefacts URL "[^"]*" /, '').replace(/\. Fix: .*$/, ''), 'use s3://<bucket>/<prefix> or file:///<absolute folder>');
  }
  return raw;
}

/** Reads and validates the scheduler's environment once, at boot. */
export function schedulerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  const databaseUrl = env.SWARMFLOW_DATABASE_URL;
  if (!databaseUrl) {
    throw new ConfigError('SWARMFLOW_DATABASE_URL', 'is not set', 'set it to a PostgreSQL URL, e.g. postgres://user:pass@db:5432/swarmflow');
  }
  return {
    databaseUrl,
    amqpUrl: env.SWARMFLOW_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    brokerPrefix: env.SWARMFLOW_BROKER_PREFIX ?? '',
    dagsFolder: env.SWARMFLOW_DAGS_FOLDER ?? 'dags',
    dagParseIntervalMs: duration(env, 'SWARMFLOW_DAG_PARSE_INTERVAL', '30s'),
    dagFileTimeoutMs: duration(env, 'SWARMFLOW_DAG_FILE_TIMEOUT', '30s'),
    dagFileMemoryMb: megabytes(env, 'SWARMFLOW_DAG_FILE_MEMORY', 1024),
    tickMs: duration(env, 'SWARMFLOW_SCHEDULER_TICK', '1s'),
    heartbeatTimeoutMs: duration(env, 'SWARMFLOW_HEARTBEAT_TIMEOUT', '30s'),
    eventCoalesceMs: duration(env, 'SWARMFLOW_EVENT_COALESCE', '5ms'),
    workerGoneMs: duration(env, 'SWARMFLOW_WORKER_GONE_AFTER', '2s'),
    artifactsUrl: artifactsUrl(env),
  };
}
