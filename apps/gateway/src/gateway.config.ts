import type { GatewayConfig } from './gateway';

/** A gateway setting that cannot be used: names the variable and the fix. */
export class GatewayConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'GatewayConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

function duration(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
  if (!m) throw new GatewayConfigError(name, `${JSON.stringify(raw)} is not a duration: give e.g. 500ms, 15s or 1m`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms'];
  if (ms <= 0) throw new GatewayConfigError(name, 'must be more than 0');
  return ms;
}

function port(raw: string, name: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new GatewayConfigError(name, `${JSON.stringify(raw)} is not a port (1-65535)`);
  return n;
}

/**
 * SWARMFLOW_GATEWAY_PORT (8080), SWARMFLOW_GATEWAY_HOST (0.0.0.0), SWARMFLOW_GATEWAY_BACKEND
 * (tasks.webserver:8080), SWARMFLOW_GATEWAY_RESOLVE_INTERVAL (1s), SWARMFLOW_GATEWAY_RETRY_WINDOW
 * (15s), SWARMFLOW_GATEWAY_CONNECT_TIMEOUT (2s).
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv): GatewayConfig {
  const backend = env.SWARMFLOW_GATEWAY_BACKEND?.trim() || 'tasks.webserver:8080';
  const m = /^([A-Za-z0-9._-]+):(\d+)$/.exec(backend);
  if (!m) throw new GatewayConfigError('SWARMFLOW_GATEWAY_BACKEND', `${JSON.stringify(backend)} is not host:port: give e.g. tasks.webserver:8080`);
  return {
    host: env.SWARMFLOW_GATEWAY_HOST?.trim() || '0.0.0.0',
    port: port(env.SWARMFLOW_GATEWAY_PORT?.trim() || '8080', 'SWARMFLOW_GATEWAY_PORT'),
    backendHost: m[1],
    backendPort: port(m[2], 'SWARMFLOW_GATEWAY_BACKEND'),
    resolveIntervalMs: duration(env, 'SWARMFLOW_GATEWAY_RESOLVE_INTERVAL', 1000),
    retryWindowMs: duration(env, 'SWARMFLOW_GATEWAY_RETRY_WINDOW', 15_000),
    connectTimeoutMs: duration(env, 'SWARMFLOW_GATEWAY_CONNECT_TIMEOUT', 2000),
  };
}
