import { readFileSync } from 'node:fs';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import Docker from 'dockerode';
import { AmqpBroker, BrokerTransport, ControlSender, EXCHANGES, type Broker } from '@swarmflow/messaging';
import { AutoscalerLease, Database, Repositories } from '@swarmflow/persistence';
import { processMetrics, type SwarmflowMetrics } from '@swarmflow/observability';
import { ClusterKey, ControlSigner } from '@swarmflow/secrets';
import { parseInstanceGroups, type InstanceGroup } from '../../cli/src/deploy/instance-groups';
import { AutoscalerModule } from './autoscaler.module';
import type { AutoscalerConfig } from './autoscaler.config';
import { CommandProvider } from './providers/command.provider';
import type { ScalingProvider } from './providers/scaling-provider';
import { SimulatedProvider } from './providers/simulated.provider';
import { SwarmServiceProvider, type SwarmApi } from './providers/swarm-service.provider';
import { AutoscalerService, policyOf, type DecisionLog, type Leadership, type ScaledGroup } from './services/autoscaler.service';
import { HeartbeatView } from './services/heartbeat-view';

/** The provider a group's `provider` field names. */
export function providerFor(group: InstanceGroup, stack: string, docker: () => SwarmApi): ScalingProvider {
  switch (group.provider.type) {
    case 'simulated': return new SimulatedProvider(group.name, group.replicas);
    case 'command': return new CommandProvider(group.name, group.provider.command, group.replicas);
    case 'swarm-service': return new SwarmServiceProvider(group.name, docker(), `${stack}_worker-${group.name}`);
  }
}

export interface AutoscalerDeps {
  broker: Broker;
  /** Sends drain/resume/shutdown signed with the cluster key (workers refuse unsigned commands). */
  control: ControlSender;
  decisions: DecisionLog;
  leadership: Leadership;
  groups: ScaledGroup[];
  metrics?: SwarmflowMetrics;
  logger?: LoggerService;
  /** Turn Nest's own logger off (tests): it is global, so it also silences every `Logger`. */
  quietNest?: boolean;
}

export interface RunningAutoscaler {
  service: AutoscalerService;
  view: HeartbeatView;
  app: INestMicroservice;
  /** Runs one round now (tests; the timer runs them every interval). */
  round(now?: number): ReturnType<AutoscalerService['round']>;
  stop(): Promise<void>;
}

/**
 * Starts the autoscaler on a started broker: the Nest microservice (heartbeats through the
 * BrokerTransport on an exclusive queue of its own) and a round every `intervalMs`
 * (0 = only when `round()` is called).
 */
export async function runAutoscaler(config: Pick<AutoscalerConfig, 'name' | 'heartbeatTimeoutMs' | 'intervalMs'>, deps: AutoscalerDeps): Promise<RunningAutoscaler> {
  const logger = deps.logger ?? new Logger('autoscaler');
  const view = new HeartbeatView(config.heartbeatTimeoutMs);
  // Bound to every event, not only `worker.heartbeat`: a worker's events may travel as one batch routed by its
  // first key (AmqpBroker `coalesce`), so a heartbeat can ride in a batch keyed `task.started`. Other events are acked unhandled.
  const queue = { name: `swarmflow.events.autoscaler.${config.name}`, exchange: EXCHANGES.events, bindings: ['#'], durable: false, exclusive: true, autoDelete: true };
  const transport = new BrokerTransport(deps.broker, [{ queue, prefetch: 100 }]);
  const app = await NestFactory.createMicroservice(AutoscalerModule.forRoot(view), { strategy: transport, ...(deps.quietNest ? { logger: false } : {}) });
  await app.listen();
  const service = new AutoscalerService(deps.groups, view, deps.broker, deps.control, deps.decisions, deps.leadership, deps.metrics ?? processMetrics(), logger, config.name);
  let running: Promise<unknown> = Promise.resolve();
  const round = (now = Date.now()) => {
    const next = running.then(() => service.round(now));
    running = next.catch(() => undefined);
    return next;
  };
  const timer = config.intervalMs > 0 ? setInterval(() => { void round().catch((e: unknown) => logger.error(`autoscaler round failed: ${(e as Error).message}`)); }, config.intervalMs) : null;
  let stopped: Promise<void> | null = null;
  return {
    service, view, app, round,
    stop() {
      stopped ??= (async () => {
        if (timer) clearInterval(timer);
        await running;
        await app.close();
        await deps.leadership.release();
      })();
      return stopped;
    },
  };
}

/** `swarmflow autoscaler`: against PostgreSQL and RabbitMQ, the groups of the groups file; resolves once it runs. */
export async function startAutoscaler(config: AutoscalerConfig): Promise<{ stop(): Promise<void> }> {
  const logger = new Logger('autoscaler');
  const clusterKey = ClusterKey.fromEnv();
  if (!clusterKey) {
    throw new Error('SWARMFLOW_CLUSTER_KEY: not set: the autoscaler signs drain, resume and shutdown with a key derived from the cluster key, and workers obey only signed commands. ' +
      'Fix: give the autoscaler the workers\' key, SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE');
  }
  const groups = parseInstanceGroups(readFileSync(config.groupsFile, 'utf8'), config.groupsFile);
  const db = new Database({ url: config.databaseUrl });
  await db.connect();
  if (await db.pendingMigrations()) {
    await db.close();
    throw new Error('the database schema is not up to date. Fix: run `swarmflow db migrate` first');
  }
  const broker = new AmqpBroker({ url: config.amqpUrl, prefix: config.brokerPrefix, logger });
  await broker.start();
  const control = new ControlSender(broker, new ControlSigner(clusterKey));
  let docker: Docker | null = null;
  const overrides = { scaleUpCooldownMs: config.scaleUpCooldownMs, scaleDownCooldownMs: config.scaleDownCooldownMs };
  const scaled = groups.map((g) => ({ group: g, policy: policyOf(g, overrides), provider: providerFor(g, config.stack, () => (docker ??= new Docker()) as unknown as SwarmApi) }));
  const lease = new AutoscalerLease(config.databaseUrl);
  const running = await runAutoscaler(config, { broker, control, decisions: new Repositories(db).autoscaler, leadership: lease, groups: scaled, logger });
  logger.log(`autoscaler ${config.name} running: ${groups.map((g) => `${g.name} (${g.provider.type}, ${g.minReplicas}..${g.maxReplicas})`).join(', ')}; one round every ${config.intervalMs} ms while it leads`);
  return {
    async stop() {
      await running.stop();
      await broker.close();
      await db.close();
    },
  };
}

