import { InitialSchema1763700000000 } from './1763700000000-initial-schema';
import { OutboxTaskInstance1763800000000 } from './1763800000000-outbox-task-instance';
import { Variable1763900000000 } from './1763900000000-variable';
import { WorkerGpus1764000000000 } from './1764000000000-worker-gpus';
import { DagRunTiSeq1764100000000 } from './1764100000000-dag-run-ti-seq';
import { RequireApplied1764200000000 } from './1764200000000-require-applied';
import { SchedulerEpoch1764300000000 } from './1764300000000-scheduler-epoch';
import { LostWorkersRunNothing1764400000000 } from './1764400000000-lost-workers-run-nothing';
import { DagRunLogicalDateUnique1764500000000 } from './1764500000000-dag-run-logical-date-unique';
import { Auth1764600000000 } from './1764600000000-auth';
import { WorkerDetail1764610000000 } from './1764610000000-worker-detail';
import { TaskEndHold1764710000000 } from './1764710000000-task-end-hold';
import { DagRunReason1764720000000 } from './1764720000000-dag-run-reason';
import { ChangeFeed1764750000000 } from './1764750000000-change-feed';
import { QueueDepthSample1764750100000 } from './1764750100000-queue-depth-sample';
import { TaskResult1764760000000 } from './1764760000000-task-result';
import { Backfill1764770000000 } from './1764770000000-backfill';
import { AutoscalerDecision1764780000000 } from './1764780000000-autoscaler-decision';
import { TaskLogArchive1764810000000 } from './1764810000000-task-log-archive';
import { TaskResultContainer1764830000000 } from './1764830000000-task-result-container';
import { TaskContainer1764900000000 } from './1764900000000-task-container';
import { WorkerHandOver1764910000000 } from './1764910000000-worker-hand-over';
import { TaskLogArchiveDue1764920000000 } from './1764920000000-task-log-archive-due';
import { TaskStateHistoryTry1764930000000 } from './1764930000000-task-state-history-try';
import { TaskTry1764950000000 } from './1764950000000-task-try';

/** Every migration, oldest first. */
export const MIGRATIONS = [InitialSchema1763700000000, OutboxTaskInstance1763800000000, Variable1763900000000, WorkerGpus1764000000000, DagRunTiSeq1764100000000, RequireApplied1764200000000, SchedulerEpoch1764300000000, LostWorkersRunNothing1764400000000, DagRunLogicalDateUnique1764500000000, Auth1764600000000, WorkerDetail1764610000000, TaskEndHold1764710000000, DagRunReason1764720000000, ChangeFeed1764750000000, QueueDepthSample1764750100000, TaskResult1764760000000, Backfill1764770000000, AutoscalerDecision1764780000000, TaskLogArchive1764810000000, TaskResultContainer1764830000000, TaskContainer1764900000000, WorkerHandOver1764910000000, TaskLogArchiveDue1764920000000, TaskStateHistoryTry1764930000000, TaskTry1764950000000];
