import { Module, type DynamicModule } from '@nestjs/common';
import type { Repositories } from '@swarmflow/persistence';
import type { Broker } from '@swarmflow/messaging';
import type { ClusterKey } from '@swarmflow/secrets';
import type { MetricsAccess } from '@swarmflow/observability';
import { DagsController } from './http/dags.controller';
import { MetricsController } from './http/metrics.controller';
import { RunsController } from './http/runs.controller';
import { SystemController } from './http/system.controller';
import { VariablesController } from './http/variables.controller';
import { WorkersController } from './http/workers.controller';
import { ClearService } from './services/clear.service';
import { HealthService } from './services/health.service';
import { KillService } from './services/kill.service';
import { DagQueriesService } from './services/dag-queries.service';
import { RunQueriesService } from './services/run-queries.service';
import { SystemQueriesService } from './services/system-queries.service';
import { TriggerService } from './services/trigger.service';
import { VariablesService } from './services/variables.service';
import { WorkerControlService } from './services/worker-control.service';
import { BROKER, CLOCK, CLUSTER_KEY, METRICS_ACCESS, ON_CHANGE, REPOSITORIES, type Clock, type OnChange } from './tokens';

export interface WebserverModuleOptions {
  repos: Repositories;
  onChange?: OnChange;
  clock?: Clock;
  /** Encrypts secret variables; without it, secrets cannot be written. */
  clusterKey?: ClusterKey | null;
  /** Sends commands to workers (kill); without it, kill answers 503 `no_broker`. */
  broker?: Broker | null;
  /** Who may read `/metrics`; default nobody (403 naming the fix). */
  metricsAccess?: MetricsAccess;
}

/** Every controller of the API (the OpenAPI document reads their roles). */
export const CONTROLLERS = [SystemController, DagsController, RunsController, VariablesController, WorkersController];

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
        { provide: METRICS_ACCESS, useValue: options.metricsAccess ?? { token: null, open: false } },
        DagQueriesService, RunQueriesService, SystemQueriesService, TriggerService, ClearService, VariablesService, KillService, WorkerControlService,
        HealthService,
      ],
    };
  }
}
