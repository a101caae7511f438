import type { Database } from '../database';
import { ClusterStatsRepository } from './cluster-stats.repository';
import { DagRepository } from './dag.repository';
import { DagRunRepository } from './dag-run.repository';
import { OutboxRepository } from './outbox.repository';
import { PoolRepository } from './pool.repository';
import { TaskInstanceRepository } from './task-instance.repository';
import { TaskLogRepository } from './task-log.repository';
import { VariableRepository } from './variable.repository';
import { WorkerRepository } from './worker.repository';
import { UserRepository } from './user.repository';
import { ApiTokenRepository } from './api-token.repository';
import { SessionRepository } from './session.repository';
import { AuditLogRepository } from './audit-log.repository';
import { BackfillRepository } from './backfill.repository';
import { ChangeFeedRepository } from './change-feed.repository';
import { DashboardRepository } from './dashboard.repository';
import { TaskResultRepository } from './task-result.repository';
import { TaskContainerRepository } from './task-container.repository';
import { AutoscalerRepository } from './autoscaler.repository';

/** Every repository over one database. */
export class Repositories {
  readonly dags: DagRepository;
  readonly runs: DagRunRepository;
  readonly tis: TaskInstanceRepository;
  readonly outbox: OutboxRepository;
  readonly logs: TaskLogRepository;
  readonly workers: WorkerRepository;
  readonly pools: PoolRepository;
  readonly variables: VariableRepository;
  readonly clusterStats: ClusterStatsRepository;
  readonly users: UserRepository;
  readonly tokens: ApiTokenRepository;
  readonly sessions: SessionRepository;
  readonly audit: AuditLogRepository;
  readonly backfills: BackfillRepository;
  readonly changes: ChangeFeedRepository;
  readonly dashboard: DashboardRepository;
  readonly results: TaskResultRepository;
  readonly containers: TaskContainerRepository;
  readonly autoscaler: AutoscalerRepository;

  constructor(readonly db: Database) {
    this.dags = new DagRepository(db);
    this.runs = new DagRunRepository(db);
    this.tis = new TaskInstanceRepository(db);
    this.outbox = new OutboxRepository(db);
    this.logs = new TaskLogRepository(db);
    this.workers = new WorkerRepository(db);
    this.pools = new PoolRepository(db);
    this.variables = new VariableRepository(db);
    this.clusterStats = new ClusterStatsRepository(db);
    this.users = new UserRepository(db);
    this.tokens = new ApiTokenRepository(db);
    this.sessions = new SessionRepository(db);
    this.audit = new AuditLogRepository(db);
    this.backfills = new BackfillRepository(db);
    this.changes = new ChangeFeedRepository(db);
    this.dashboard = new DashboardRepository(db);
    this.results = new TaskResultRepository(db);
    this.containers = new TaskContainerRepository(db);
    this.autoscaler = new AutoscalerRepository(db);
  }
}
