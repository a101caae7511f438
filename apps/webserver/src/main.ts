import { Logger, type INestApplication } from '@nestjs/common';
import { Database, Repositories } from '@swarmflow/persistence';
import { ClusterKey, ConfigError } from '@swarmflow/secrets';
import { AmqpBroker } from '@swarmflow/messaging';
import { MetricsConfigError, metricsAccessFromEnv, type MetricsAccess } from '@swarmflow/observability';
import { createWebserver } from './webserver';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost } from './http/host-check.middleware';
import { loadWebserverConfig, nestLogLevels, WebserverConfigError, type WebserverConfig } from './webserver.config';
import { ensureAdmin } from './auth/bootstrap';

export interface RunningWebserver {
  app: INestApplication;
  /** Where the API listens, e.g. http://127.0.0.1:8080 (the actual port when 0 was asked). */
  url: string;
  /** Stops listening, then closes the database. */
  close(): Promise<void>;
}

/**
 * Starts the webserver on its own database connection. Refuses to start on a database
 * with pending migrations (the API would fail on missing tables request by request).
 * @param clusterKey encrypts secret variables (see {@link ClusterKey.fromEnv}); null = secrets cannot be written.
 * @param metricsAccess who may read `/metrics` (SWARMFLOW_METRICS_TOKEN, SWARMFLOW_METRICS_PUBLIC, loopback host).
 */
export async function startWebserver(
  config: WebserverConfig,
  logger = new Logger('Webserver'),
  clusterKey: ClusterKey | null = null,
  metricsAccess: MetricsAccess = metricsAccessFromEnv(process.env, config.host),
): Promise<RunningWebserver> {
  Logger.overrideLogger(nestLogLevels(config.logLevel));
  const db = new Database({ url: config.databaseUrl });
  try {
    if (await db.pendingMigrations()) {
      throw new WebserverConfigError('SWARMFLOW_DATABASE_URL', 'the database schema is not up to date: run `swarmflow db migrate` first');
    }
    try {
      if (await ensureAdmin(new Repositories(db), { passwordFile: config.adminPasswordFile, userName: config.adminUser })) {
        logger.log(`created the admin ${config.adminUser} from SWARMFLOW_ADMIN_PASSWORD_FILE`);
      }
    } catch (err) {
      throw new WebserverConfigError('SWARMFLOW_ADMIN_PASSWORD_FILE', (err as Error).message.replace(/^SWARMFLOW_ADMIN_PASSWORD_FILE: /, ''));
    }
    const broker = config.amqpUrl ? new AmqpBroker({ url: config.amqpUrl, prefix: config.brokerPrefix, logger }) : null;
    await broker?.start();
    if (!broker) logger.warn('no SWARMFLOW_AMQP_URL: `tasks kill` cannot reach the workers');
    const app = await createWebserver({
      repos: new Repositories(db), logger, clusterKey, broker, artifactsUrl: config.artifactsUrl, publicUrl: config.publicUrl, bindHost: config.host, metricsAccess, auth: config.auth,
      auditRetention: { retentionMs: config.auditRetentionMs }, logArchive: config.logArchive ?? null,
    });
    if (clusterKey) logger.log(`cluster key ${clusterKey.fingerprint} loaded: secret variables are encrypted with it, commands to workers signed with it`);
    else logger.warn('no cluster key (SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE): secret variables cannot be written, and kill and worker commands answer 503');
    await app.listen(config.port, config.host);
    const address = app.getHttpServer().address() as AddressInfo;
    const url = `http://${connectHost(address.address)}:${address.port}`;
    logger.log(describeListening(address, config.publicUrl));
    return {
      app, url,
      close: async () => {
        const drainMs = config.drainMs ?? 0;
        if (drainMs > 0) {
          // Out of Swarm's DNS already: callers that still hold this address get answers, each
          // closing its connection, until they have looked again (the gateway does every second).
          const server = app.getHttpServer() as Server;
          server.prependListener('request', (_req, res: ServerResponse) => res.setHeader('connection', 'close'));
          server.closeIdleConnections();
          logger.log(`draining: still answering for ${drainMs} ms (SWARMFLOW_WEB_DRAIN), then closing`);
          await new Promise((ok) => setTimeout(ok, drainMs));
        }
        await app.close();
        await broker?.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** Where a client on this host connects: the bound address, or loopback when it binds every interface. */
export function connectHost(bound: string): string {
  if (bound === '0.0.0.0') return '127.0.0.1';
  if (bound === '::') return '[::1]';
  return bound.includes(':') ? `[${bound}]` : bound;
}

/**
 * The log line of a started API: the address it really binds (`0.0.0.0:8080`, all
 * interfaces, is not `127.0.0.1:8080`), where users reach it, and what the Host check does.
 */
export function describeListening(address: AddressInfo, publicUrl: string | null): string {
  const bound = address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  const where = everywhere ? ' (every interface)' : isLoopbackHost(address.address) ? ' (loopback only)' : '';
  const local = `http://${connectHost(address.address)}:${address.port}/api/v1`;
  const reach = publicUrl
    ? `: users reach it as ${publicUrl}/api/v1 (requests for other host names are refused)`
    : isLoopbackHost(address.address)
      ? `: ${local}`
      : `: ${local} from this host. SWARMFLOW_PUBLIC_URL is not set: every host name is answered ` +
        '(set it to the URL users reach the server by, to refuse DNS-rebinding requests)';
  return `REST API on ${bound}${where}${reach}`;
}

async function bootstrap(): Promise<void> {
  const logger = new Logger('Webserver');
  let config: WebserverConfig;
  let clusterKey: ClusterKey | null;
  let metricsAccess: MetricsAccess;
  try {
    config = loadWebserverConfig(process.env);
    clusterKey = ClusterKey.fromEnv(process.env);
    metricsAccess = metricsAccessFromEnv(process.env, config.host);
  } catch (err) {
    if (!(err instanceof WebserverConfigError) && !(err instanceof ConfigError) && !(err instanceof MetricsConfigError)) throw err;
    logger.error(`invalid configuration: ${err.message}`);
    process.exit(2);
  }
  const server = await startWebserver(config, logger, clusterKey, metricsAccess);
  const stop = (signal: NodeJS.Signals): void => {
    logger.log(`${signal}: shutting down`);
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  bootstrap().catch((err: unknown) => {
    const message = err instanceof WebserverConfigError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
    new Logger('Webserver').error(`webserver failed to start: ${message}`);
    process.exit(err instanceof WebserverConfigError ? 2 : 1);
  });
}
