import { parseDuration } from '@swarmflow/core';

export interface AutoscalerConfig {
  databaseUrl: string;
  amqpUrl: string;
  brokerPrefix: string;
  /** The instance groups file (SWARMFLOW_AUTOSCALER_GROUPS, default deploy/swarm/groups.yaml). */
  groupsFile: string;
  /** Name of the Swarm stack: group g is the service `<stack>_worker-<g>` (SWARMFLOW_AUTOSCALER_STACK, default swarmflow). */
  stack: string;
  /** Time between two rounds (SWARMFLOW_AUTOSCALER_INTERVAL, default 2s). */
  intervalMs: number;
  /** A worker silent this long is gone (SWARMFLOW_HEARTBEAT_TIMEOUT, default 30s). */
  heartbeatTimeoutMs: number;
  scaleUpCooldownMs: number;
  scaleDownCooldownMs: number;
  /** This instance's name in the decision history (SWARMFLOW_AUTOSCALER_NAME, default the hostname and pid). */
  name: string;
}

/** Raised at boot for a bad environment; names the variable and the fix. */
export class AutoscalerConfigError extends Error {
  override name = 'AutoscalerConfigError';

  constructor(readonly variable: string, problem: string, fix: string) {
    super(`${variable} ${problem}. Fix: ${fix}`);
  }
}

function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] ?? fallback;
  try {
    return parseDuration(raw, name);
  } catch {
    throw new AutoscalerConfigError(name, `is not a duration (got "${raw}")`, `use e.g. ${fallback}, 500ms, 5m`);
  }
}

/** Reads and validates the autoscaler's environment once, at boot. */
export function autoscalerConfigFromEnv(env: NodeJS.ProcessEnv = process.env, hostname = 'autoscaler'): AutoscalerConfig {
  const databaseUrl = env.SWARMFLOW_DATABASE_URL;
  if (!databaseUrl) {
    throw new AutoscalerConfigError('SWARMFLOW_DATABASE_URL', 'is not set', 'set it to a PostgreSQL URL (the autoscaler records its decisions and holds its leader lock there)');
  }
  return {
    databaseUrl,
    amqpUrl: env.SWARMFLOW_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    brokerPrefix: env.SWARMFLOW_BROKER_PREFIX ?? '',
    groupsFile: env.SWARMFLOW_AUTOSCALER_GROUPS ?? 'deploy/swarm/groups.yaml',
    stack: env.SWARMFLOW_AUTOSCALER_STACK ?? 'swarmflow',
    intervalMs: duration(env, 'SWARMFLOW_AUTOSCALER_INTERVAL', '2s'),
    heartbeatTimeoutMs: duration(env, 'SWARMFLOW_HEARTBEAT_TIMEOUT', '30s'),
    scaleUpCooldownMs: duration(env, 'SWARMFLOW_AUTOSCALER_UP_COOLDOWN', '15s'),
    scaleDownCooldownMs: duration(env, 'SWARMFLOW_AUTOSCALER_DOWN_COOLDOWN', '2m'),
    name: env.SWARMFLOW_AUTOSCALER_NAME ?? `${hostname}.${process.pid}`,
  };
}
