import { createServer, type Server } from 'node:http';
import { checkMetricsAccess, MetricsConfigError, metricsAccessFromEnv, type MetricsAccess } from './metrics-access';
import type { SwarmflowMetrics } from './metrics';

/** Where a scheduler or worker serves `/metrics`; null (no `SWARMFLOW_METRICS_PORT`) = nowhere. */
export interface MetricsServerConfig {
  port: number;
  host: string;
  access: MetricsAccess;
}

/** Loopback by default: a port opened to the network is a choice (`0.0.0.0` in a container). */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

/**
 * Reads `SWARMFLOW_METRICS_PORT` (unset or blank = no endpoint; 0 = any free port),
 * `SWARMFLOW_METRICS_HOST` (default 127.0.0.1), `SWARMFLOW_METRICS_TOKEN` and
 * `SWARMFLOW_METRICS_PUBLIC` (see {@link metricsAccessFromEnv}). Throws
 * {@link MetricsConfigError} naming the bad variable.
 */
export function metricsServerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsServerConfig | null {
  const raw = env.SWARMFLOW_METRICS_PORT?.trim();
  if (!raw) return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new MetricsConfigError('SWARMFLOW_METRICS_PORT', `must be a port number between 0 and 65535 (got "${raw}")`, 'set e.g. SWARMFLOW_METRICS_PORT=9464, or unset it for no metrics endpoint');
  }
  const host = env.SWARMFLOW_METRICS_HOST?.trim() || DEFAULT_METRICS_HOST;
  return { port, host, access: metricsAccessFromEnv(env, host) };
}

export interface RunningMetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics (the real port when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` of `metrics` on a small HTTP server of its own (schedulers and
 * workers have no other HTTP server). Anything else answers 404.
 */
export async function startMetricsServer(config: MetricsServerConfig, metrics: SwarmflowMetrics): Promise<RunningMetricsServer> {
  metrics.enableDefaultMetrics();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: this port serves GET /metrics only\n');
      return;
    }
    const decision = checkMetricsAccess(config.access, req.headers.authorization);
    if (!decision.ok) {
      res.writeHead(decision.status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${decision.message}\n`);
      return;
    }
    metrics.exposition().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new MetricsConfigError('SWARMFLOW_METRICS_PORT', `${config.port} is in use on ${config.host}`, 'choose another port')
      : err));
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as { port: number };
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
