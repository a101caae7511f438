import { Logger } from '@nestjs/common';
import { AmqpBroker, EXCHANGES } from '@swarmflow/messaging';
import { metricsServerConfigFromEnv, processMetrics, startMetricsServer } from '@swarmflow/observability';
import { startWorker } from './start-worker';
import { selectedSpawner } from '@swarmflow/executors';
import { loadWorkerConfig, parseWorkerArgs, type WorkerArgs } from './worker.config';
import { handOffMarginMs } from './worker.service';

/**
 * Worker process: config from env and args, broker, worker, signals. First SIGTERM or
 * SIGINT drains (running tasks and containers finish; with SWARMFLOW_WORKER_STOP_GRACE,
 * containers still running as it nears its end are handed over to the next worker of the
 * same name and processes cancelled), a second one cancels them (containers are stopped);
 * both exit 0 once the last heartbeat is out. A worker killed
 * outright leaves its containers running: restarted with the same name, it re-adopts them.
 */
export async function runWorkerProcess(args: WorkerArgs = parseWorkerArgs(process.argv.slice(2))): Promise<void> {
  const logger = new Logger('Worker');
  let config;
  let spawner;
  let metricsConfig;
  try {
    config = loadWorkerConfig(process.env, args);
    metricsConfig = metricsServerConfigFromEnv(process.env);
    spawner = selectedSpawner();
  } catch (err) {
    logger.error(`invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  logger.log(spawner === 'native'
    ? 'process tasks start through sf-spawner'
    : `process tasks start through Node's child_process.spawn (${process.env.SWARMFLOW_PROCESS_SPAWNER === 'node'
      ? 'SWARMFLOW_PROCESS_SPAWNER=node' : 'sf-spawner is not built: no C compiler at build time; `npm run build:native` builds it'})`);

  const broker = new AmqpBroker({
    url: config.amqpUrl, prefix: config.brokerPrefix, logger, connectionName: `swarmflow worker ${config.worker.name}`,
    // Each of these exchanges feeds one queue the scheduler reads: under load, many events share a message.
    coalesce: [EXCHANGES.events, EXCHANGES.logs],
  });
  await broker.start();
  const worker = await startWorker(config.worker, broker, { logger, clusterKey: config.clusterKey });
  const metricsServer = metricsConfig ? await startMetricsServer(metricsConfig, processMetrics()) : null;
  if (metricsServer) logger.log(`metrics on ${metricsServer.url}`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) {
      const grace = config.worker.stopGraceMs;
      logger.log(`${signal}: stopping once the ${worker.runningTasks().length} running task(s) finish` +
        (grace === undefined ? '' : ` (at most ${grace - handOffMarginMs(grace)} ms: then running containers are handed over to the next worker named ${config.worker.name}, processes cancelled)`) +
        '; send it again to cancel them');
      void worker.terminate();
    } else if (signals === 2) {
      logger.warn(`${signal} again: cancelling the running tasks`);
      void worker.shutdown('worker shutdown');
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  await worker.whenStopped();
  await metricsServer?.close();
  await broker.close();
  process.exit(0);
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    new Logger('Worker').error(`worker failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  });
}
