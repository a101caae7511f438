import { Logger } from '@nestjs/common';
import { AmqpBroker } from '@swarmflow/messaging';
import { Database, Repositories } from '@swarmflow/persistence';
import { metricsServerConfigFromEnv, processMetrics, startMetricsServer, type MetricsServerConfig } from '@swarmflow/observability';
import { ClusterKey } from '@swarmflow/secrets';
import { schedulerConfigFromEnv, type SchedulerConfig } from './config';
import { Scheduler } from './scheduler';

/**
 * Starts a scheduler against PostgreSQL and RabbitMQ (distributed mode); resolves once it runs.
 * @param metricsConfig where to serve `/metrics` (SWARMFLOW_METRICS_PORT); null = nowhere.
 */
export async function startScheduler(
  config: SchedulerConfig, metricsConfig: MetricsServerConfig | null = metricsServerConfigFromEnv(process.env),
): Promise<{ scheduler: Scheduler; metricsUrl: string | null; stop(): Promise<void> }> {
  const logger = new Logger('scheduler');
  const clusterKey = ClusterKey.fromEnv();
  if (!clusterKey) {
    throw new Error('SWARMFLOW_CLUSTER_KEY: not set: the scheduler signs every task message with the cluster key and workers run only signed ones. ' +
      'Fix: give the scheduler and the workers the same key, SWARMFLOW_CLUSTER_KEY (generate one with `openssl rand -base64 32`) or SWARMFLOW_CLUSTER_KEY_FILE');
  }
  const db = new Database({ url: config.databaseUrl });
  await db.connect();
  if (await db.pendingMigrations()) {
    await db.close();
    throw new Error('the database schema is not up to date. Fix: run `swarmflow db migrate` first');
  }
  const broker = new AmqpBroker({ url: config.amqpUrl, prefix: config.brokerPrefix, logger });
  await broker.start();
  const scheduler = new Scheduler({ ...config, clusterKey }, new Repositories(db), broker, logger);
  await scheduler.start();
  const metricsServer = metricsConfig ? await startMetricsServer(metricsConfig, processMetrics()) : null;
  logger.log(`scheduler running: DAGs from ${config.dagsFolder}, broker ${redact(config.amqpUrl)}${metricsServer ? `, metrics on ${metricsServer.url}` : ''}`);
  return {
    scheduler,
    metricsUrl: metricsServer?.url ?? null,
    async stop() {
      await metricsServer?.close();
      await scheduler.stop();
      await broker.close();
      await db.close();
    },
  };
}

/** Hides the password of a URL for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

if (require.main === module) {
  startScheduler(schedulerConfigFromEnv())
    .then(({ stop }) => {
      let stopping = false;
      // A second signal exits at once; exit handlers still kill a DAG import under way.
      const shutdown = () => {
        if (stopping) process.exit(1);
        stopping = true;
        void stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', shutdown);
      process.on('SIGINT', shutdown);
    })
    .catch((err) => {
      process.stderr.write(`swarmflow scheduler: ${(err as Error).message}\n`);
      process.exit(2);
    });
}
