/** A bad setting found at boot; names the environment variable to fix. */
export class WebserverConfigError extends Error {
  override name = 'WebserverConfigError';

  constructor(readonly variable: string, readonly problem: string) {
    super(`${variable}: ${problem}`);
  }
}

export interface WebserverConfig {
  databaseUrl: string;
  port: number;
  host: string;
  /** RabbitMQ, for commands to workers (`tasks kill`); null = no broker, kill answers 503. */
  amqpUrl: string | null;
  brokerPrefix: string;
}

export const DEFAULT_WEB_PORT = 8080;
export const DEFAULT_WEB_HOST = '0.0.0.0';

/**
 * Reads `SWARMFLOW_DATABASE_URL` (required), `SWARMFLOW_WEB_PORT` (default 8080) and
 * `SWARMFLOW_WEB_HOST` (default 0.0.0.0). Throws {@link WebserverConfigError} naming the
 * first bad variable; never echoes the database URL (it holds a password).
 */
export function loadWebserverConfig(env: NodeJS.ProcessEnv = process.env): WebserverConfig {
  const databaseUrl = env.SWARMFLOW_DATABASE_URL?.trim();
  if (!databaseUrl) {
    throw new WebserverConfigError('SWARMFLOW_DATABASE_URL', 'is required: set it to the metadata database, e.g. postgres://swarmflow:password@postgres:5432/swarmflow');
  }
  if (!/^postgres(ql)?:\/\/./.test(databaseUrl) || !URL.canParse(databaseUrl)) {
    throw new WebserverConfigError('SWARMFLOW_DATABASE_URL', 'must be a postgres:// URL, e.g. postgres://swarmflow:password@postgres:5432/swarmflow');
  }
  const rawPort = env.SWARMFLOW_WEB_PORT?.trim();
  const port = rawPort ? Number(rawPort) : DEFAULT_WEB_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WebserverConfigError('SWARMFLOW_WEB_PORT', `must be a port number between 0 and 65535 (got ${JSON.stringify(rawPort)})`);
  }
  const host = env.SWARMFLOW_WEB_HOST?.trim() || DEFAULT_WEB_HOST;
  const amqpUrl = env.SWARMFLOW_AMQP_URL?.trim() || null;
  if (amqpUrl && !/^amqps?:\/\/./.test(amqpUrl)) {
    throw new WebserverConfigError('SWARMFLOW_AMQP_URL', 'must be an amqp:// or amqps:// URL, e.g. amqp://user:password@rabbitmq:5672');
  }
  return { databaseUrl, port, host, amqpUrl, brokerPrefix: env.SWARMFLOW_BROKER_PREFIX ?? '' };
}
