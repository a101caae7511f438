import { LogStreamController } from './http/log-stream.controller';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Repositories } from '@swarmflow/persistence';
import { ControlSender, type Broker } from '@swarmflow/messaging';
import { ControlSigner, type ClusterKey } from '@swarmflow/secrets';
import type { MetricsAccess } from '@swarmflow/observability';
import { DagsController } from './http/dags.controller';
import { MetricsController } from './http/metrics.controller';
import { RunsController } from './http/runs.controller';
import { SystemController } from './http/system.controller';
import { VariablesController } from './http/variables.controller';
import { WorkersController } from './http/workers.controller';
import { EventsController } from './http/events.controller';
import { DashboardController } from './http/dashboard.controller';
import { DEFAULT_LIVE_EVENTS_OPTIONS, LiveEventsService, type LiveEventsOptions } from './services/live-events.service';
import { QueueSamplerService } from './services/queue-sampler.service';
import { CacheController } from './http/cache.controller';
import { ClearService } from './services/clear.service';
import { CancelRunService } from './services/cancel-run.service';
import { MarkService } from './services/mark.service';
import { BackfillService } from './services/backfill.service';
import { ArtifactsService } from './services/artifacts.service';
import { LogArchive, type LogArchiveOptions } from './services/log-archive.service';
import { RunUpgradeService } from './services/run-upgrade.service';
import { BackfillsController } from './http/backfills.controller';
import { HealthService } from './services/health.service';
import { KillService } from './services/kill.service';
import { DagQueriesService } from './services/dag-queries.service';
import { RunQueriesService } from './services/run-queries.service';
import { SystemQueriesService } from './services/system-queries.service';
import { TriggerService } from './services/trigger.service';
import { VariablesService } from './services/variables.service';
import { WorkerControlService } from './services/worker-control.service';
import { ARTIFACTS_URL, LOG_ARCHIVE, BROKER, CLOCK, CLUSTER_KEY, CONTROL, METRICS_ACCESS, ON_CHANGE, QUEUE_SAMPLING, REPOSITORIES, type Clock, type OnChange } from './tokens';
import { ACCOUNTS, AUDIT_RETENTION, AUTH_OPTIONS, LIVE_EVENTS_OPTIONS, LOGIN_THROTTLE } from './tokens';
import { Accounts } from './auth/accounts';
import { AuditService } from './auth/audit';
import { AuditRetention, type AuditRetentionOptions } from './auth/audit-retention';
import { AuthGuard } from './auth/auth.guard';
import { DEFAULT_AUTH_OPTIONS, type AuthOptions } from './auth/auth-options';
import { LoginThrottle } from './auth/login-throttle';
import { AuditController } from './http/audit.controller';
import { AutoscalerController } from './http/autoscaler.controller';
import { AuthController } from './http/auth.controller';
import { TokensController } from './http/tokens.controller';
import { UsersController } from './http/users.controller';

export interface WebserverModuleOptions {
  repos: Repositories;
  onChange?: OnChange;
  clock?: Clock;
  /** Encrypts secret variables; without it, secrets cannot be written. */
  clusterKey?: ClusterKey | null;
  /** Sends commands to workers (kill); without it, kill answers 503 `no_broker`. */
  broker?: Broker | null;
  /** SWARMFLOW_ARTIFACTS_URL, to list tries' artefacts; without it, that answers 409 `no_artifacts_store`. */
  artifactsUrl?: string | null;
  /** SWARMFLOW_LOG_ARCHIVE / SWARMFLOW_LOG_RETENTION: task logs archived to the artefacts store; null/absent = off. */
  logArchive?: LogArchiveOptions | null;
  /** Who may read `/metrics`; default nobody (403 naming the fix). */
  metricsAccess?: MetricsAccess;
  /** How callers are authenticated (default {@link DEFAULT_AUTH_OPTIONS}). */
  auth?: Partial<AuthOptions>;
  /** Audit log retention (SWARMFLOW_AUDIT_RETENTION); default none: nothing is pruned. */
  auditRetention?: AuditRetentionOptions | null;
  /** How the live feed polls (default {@link DEFAULT_LIVE_EVENTS_OPTIONS}). */
  liveEvents?: Partial<LiveEventsOptions>;
  /** Sample queue depths for the dashboard's chart (default: when there is a broker). */
  sampleQueues?: boolean;
}

/** Every controller of the API (the OpenAPI document reads their roles). */
export const CONTROLLERS = [
  SystemController, DagsController, RunsController, VariablesController, WorkersController, CacheController,
  AuthController, UsersController, TokensController, AuditController, BackfillsController, LogStreamController, EventsController, DashboardController,
  AutoscalerController,
];

@Module({})
export class WebserverModule {
  static forRoot(options: WebserverModuleOptions): DynamicModule {
    return {
      module: WebserverModule,
      controllers: [...CONTROLLERS, MetricsController],
      providers: [
        { provide: REPOSITORIES, useValue: options.repos },
        { provide: ON_CHANGE, useValue: options.onChange ?? (() => undefined) },
        { provide: CLOCK, useValue: options.clock ?? (() => new Date()) },
        { provide: CLUSTER_KEY, useValue: options.clusterKey ?? null },
        { provide: BROKER, useValue: options.broker ?? null },
        { provide: ARTIFACTS_URL, useValue: options.artifactsUrl ?? null },
        { provide: CONTROL, useValue: options.broker ? new ControlSender(options.broker, options.clusterKey ? new ControlSigner(options.clusterKey) : null) : null },
        { provide: METRICS_ACCESS, useValue: options.metricsAccess ?? { token: null, open: false } },
        DagQueriesService, RunQueriesService, SystemQueriesService, TriggerService, ClearService, MarkService, CancelRunService, VariablesService, KillService, WorkerControlService,
        HealthService, BackfillService, RunUpgradeService, ArtifactsService,
        { provide: LOG_ARCHIVE, useValue: options.logArchive ?? null },
        LogArchive,
        { provide: LIVE_EVENTS_OPTIONS, useValue: { ...DEFAULT_LIVE_EVENTS_OPTIONS, ...options.liveEvents } },
        LiveEventsService,
        { provide: QUEUE_SAMPLING, useValue: options.sampleQueues ?? !!options.broker },
        QueueSamplerService,
        ...authProviders(options),
      ],
    };
  }
}

/** Authentication and the audit log: the global guard and what it uses. */
function authProviders(options: WebserverModuleOptions) {
  const auth: AuthOptions = { ...DEFAULT_AUTH_OPTIONS, ...options.auth };
  const clock = options.clock ?? (() => new Date());
  return [
    { provide: AUTH_OPTIONS, useValue: auth },
    { provide: ACCOUNTS, useValue: new Accounts(options.repos, clock) },
    { provide: LOGIN_THROTTLE, useValue: new LoginThrottle({ perUser: auth.loginFailuresPerUser, perIp: auth.loginFailuresPerIp, windowMs: auth.loginWindowMs }) },
    AuditService,
    { provide: AUDIT_RETENTION, useValue: options.auditRetention ?? null },
    AuditRetention,
    AuthGuard,
    // The same instance: live streams ask it again whether their caller still is one.
    { provide: APP_GUARD, useExisting: AuthGuard },
  ];
}
