import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

// The ORM's view of the schema. The schema itself is defined by the migrations; hot paths
// (state transitions, outbox) use SQL through the repositories, and the repositories
// return core types, never these entities.

@Entity({ name: 'dag' })
export class DagEntity {
  @PrimaryColumn({ name: 'dag_id', type: 'varchar', length: 250 }) dagId!: string;
  @Column({ type: 'text' }) fileloc!: string;
  @Column({ name: 'is_paused', type: 'boolean', default: false }) isPaused!: boolean;
  /** False once its file no longer defines it. */
  @Column({ name: 'is_active', type: 'boolean', default: true }) isActive!: boolean;
  @Column({ name: 'latest_version', type: 'varchar', length: 64 }) latestVersion!: string;
  @Column({ type: 'text', nullable: true }) schedule!: string | null;
  /** Newest logical date a schedule created a run for. */
  @Column({ name: 'last_scheduled_date', type: 'timestamptz', nullable: true }) lastScheduledDate!: Date | null;
  @Column({ name: 'first_seen_at', type: 'timestamptz' }) firstSeenAt!: Date;
  @Column({ name: 'last_parsed_at', type: 'timestamptz' }) lastParsedAt!: Date;
}

@Entity({ name: 'dag_version' })
export class DagVersionEntity {
  @PrimaryColumn({ name: 'dag_id', type: 'varchar', length: 250 }) dagId!: string;
  @PrimaryColumn({ name: 'version_hash', type: 'varchar', length: 64 }) versionHash!: string;
  @Column({ type: 'jsonb' }) serialized!: unknown;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ name: 'import_error' })
export class ImportErrorEntity {
  @PrimaryColumn({ type: 'text' }) fileloc!: string;
  @Column({ type: 'text' }) message!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
}

@Entity({ name: 'dag_run' })
@Unique('dag_run_dag_id_run_id', ['dagId', 'runId'])
@Unique('dag_run_dag_id_logical_date', ['dagId', 'logicalDate'])
export class DagRunEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'dag_id', type: 'varchar', length: 250 }) dagId!: string;
  @Column({ name: 'run_id', type: 'varchar', length: 250 }) runId!: string;
  @Column({ name: 'version_hash', type: 'varchar', length: 64 }) versionHash!: string;
  @Column({ name: 'run_type', type: 'varchar', length: 20 }) runType!: string;
  @Index('dag_run_state') @Column({ type: 'varchar', length: 20 }) state!: string;
  @Column({ name: 'logical_date', type: 'timestamptz' }) logicalDate!: Date;
  @Column({ type: 'jsonb' }) conf!: unknown;
  /** Params resolved against the DAG's specs at trigger time. */
  @Column({ type: 'jsonb' }) params!: unknown;
  /** Set by whoever changed the run outside the scheduler (trigger, clear): evaluate it. */
  @Column({ name: 'needs_eval', type: 'boolean', default: true }) needsEval!: boolean;
  /** Raised by every write that can change the run's evaluation; schedulers' caches compare it. */
  @Column({ name: 'ti_seq', type: 'bigint', default: 0 }) tiSeq!: string;
  /** The backfill that created or reused it, if any (table `backfill`). */
  @Column({ name: 'backfill_id', type: 'bigint', nullable: true }) backfillId!: string | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true }) endedAt!: Date | null;
}

@Entity({ name: 'task_instance' })
@Unique('task_instance_run_task', ['runPk', 'taskId'])
export class TaskInstanceEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'run_pk', type: 'bigint' }) runPk!: string;
  @Column({ name: 'dag_id', type: 'varchar', length: 250 }) dagId!: string;
  @Column({ name: 'task_id', type: 'varchar', length: 250 }) taskId!: string;
  @Index('task_instance_state') @Column({ type: 'varchar', length: 20 }) state!: string;
  @Column({ name: 'try_number', type: 'int' }) tryNumber!: number;
  @Column({ name: 'max_tries', type: 'int' }) maxTries!: number;
  @Column({ type: 'varchar', length: 250 }) queue!: string;
  @Column({ type: 'varchar', length: 250 }) pool!: string;
  @Column({ name: 'pool_slots', type: 'int' }) poolSlots!: number;
  @Column({ type: 'int' }) priority!: number;
  @Column({ type: 'varchar', length: 250, nullable: true }) worker!: string | null;
  @Column({ type: 'varchar', length: 250, nullable: true }) hostname!: string | null;
  @Column({ type: 'int', nullable: true }) pid!: number | null;
  @Column({ name: 'exit_code', type: 'int', nullable: true }) exitCode!: number | null;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ name: 'queued_at', type: 'timestamptz', nullable: true }) queuedAt!: Date | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true }) endedAt!: Date | null;
  @Column({ name: 'next_retry_at', type: 'timestamptz', nullable: true }) nextRetryAt!: Date | null;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity({ name: 'task_state_history' })
export class TaskStateHistoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Index('task_state_history_ti') @Column({ name: 'ti_id', type: 'bigint' }) tiId!: string;
  @Column({ name: 'try_number', type: 'int' }) tryNumber!: number;
  @Column({ name: 'from_state', type: 'varchar', length: 20 }) fromState!: string;
  @Column({ name: 'to_state', type: 'varchar', length: 20 }) toState!: string;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ type: 'timestamptz' }) at!: Date;
  /** The instance's worker, hostname, pid and exit code right after the step (null in rows older than the columns). */
  @Column({ type: 'varchar', length: 250, nullable: true }) worker!: string | null;
  @Column({ type: 'varchar', length: 250, nullable: true }) hostname!: string | null;
  @Column({ type: 'int', nullable: true }) pid!: number | null;
  @Column({ name: 'exit_code', type: 'int', nullable: true }) exitCode!: number | null;
}

/** Transactional outbox: a message is written with the state change and published after commit. */
@Entity({ name: 'outbox' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  /** The task instance a task message is for; null for other messages. */
  @Column({ name: 'ti_id', type: 'bigint', nullable: true }) tiId!: string | null;
  @Column({ type: 'varchar', length: 100 }) exchange!: string;
  @Column({ name: 'routing_key', type: 'varchar', length: 250 }) routingKey!: string;
  @Column({ type: 'jsonb' }) payload!: unknown;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'published_at', type: 'timestamptz', nullable: true }) publishedAt!: Date | null;
}

@Entity({ name: 'task_log' })
export class TaskLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'ti_id', type: 'bigint' }) tiId!: string;
  @Column({ name: 'try_number', type: 'int' }) tryNumber!: number;
  @Column({ type: 'int' }) seq!: number;
  @Column({ type: 'jsonb' }) lines!: unknown;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ name: 'pool' })
export class PoolEntity {
  @PrimaryColumn({ type: 'varchar', length: 250 }) name!: string;
  @Column({ type: 'int' }) slots!: number;
  @Column({ type: 'text', default: '' }) description!: string;
}

@Entity({ name: 'worker' })
export class WorkerEntity {
  @PrimaryColumn({ type: 'varchar', length: 250 }) name!: string;
  @Column({ type: 'varchar', length: 250 }) hostname!: string;
  @Column({ type: 'jsonb' }) queues!: string[];
  @Column({ type: 'int' }) concurrency!: number;
  /** GPUs the worker can hand to container tasks. */
  @Column({ type: 'int', default: 0 }) gpus!: number;
  @Column({ type: 'varchar', length: 20 }) state!: string;
  @Column({ type: 'jsonb' }) running!: unknown;
  @Column({ name: 'first_seen_at', type: 'timestamptz' }) firstSeenAt!: Date;
  @Column({ name: 'last_heartbeat_at', type: 'timestamptz' }) lastHeartbeatAt!: Date;
}

/** A global key/value pair; `value` of a secret is a cluster-key token (`v1.…`), never plaintext. */
@Entity({ name: 'variable' })
export class VariableEntity {
  @PrimaryColumn({ type: 'varchar', length: 250 }) key!: string;
  @Column({ type: 'text' }) value!: string;
  @Column({ name: 'is_secret', type: 'boolean', default: false }) isSecret!: boolean;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

/** One row: raised by every scheduling iteration that writes; a scheduler's guard that nobody else wrote since it did. */
@Entity({ name: 'scheduler_epoch' })
export class SchedulerEpochEntity {
  @PrimaryColumn({ type: 'int' }) id!: number;
  @Column({ type: 'bigint', default: 0 }) n!: string;
}

export const ENTITIES = [
  DagEntity, DagVersionEntity, ImportErrorEntity, DagRunEntity, TaskInstanceEntity,
  TaskStateHistoryEntity, OutboxEntity, TaskLogEntity, PoolEntity, WorkerEntity, VariableEntity, SchedulerEpochEntity,
];
