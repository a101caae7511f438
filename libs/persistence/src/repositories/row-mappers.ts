import type { DagRecord, DagRun, TaskInstance } from '../records';

// pg returns bigint columns as strings; ids here stay far below 2^53.
const num = (v: unknown): number => Number(v);
const date = (v: unknown): Date | null => (v == null ? null : new Date(v as string));

export function toDagRecord(r: any): DagRecord {
  return {
    dagId: r.dag_id, fileloc: r.fileloc, isPaused: r.is_paused, isActive: r.is_active,
    latestVersion: r.latest_version, schedule: r.schedule, lastScheduledDate: date(r.last_scheduled_date),
    firstSeenAt: new Date(r.first_seen_at), lastParsedAt: new Date(r.last_parsed_at),
  };
}

export function toDagRun(r: any): DagRun {
  return {
    pk: num(r.id), dagId: r.dag_id, runId: r.run_id, versionHash: r.version_hash, runType: r.run_type,
    state: r.state, logicalDate: new Date(r.logical_date), conf: r.conf ?? {}, params: r.params ?? {},
    createdAt: new Date(r.created_at), startedAt: date(r.started_at), endedAt: date(r.ended_at), reason: r.reason ?? null,
    cacheForce: r.cache_force ?? null,
  };
}

export function toTaskInstance(r: any): TaskInstance {
  return {
    id: num(r.id), runPk: num(r.run_pk), dagId: r.dag_id, taskId: r.task_id, state: r.state,
    tryNumber: r.try_number, maxTries: r.max_tries, queue: r.queue, pool: r.pool, poolSlots: r.pool_slots,
    priority: r.priority, worker: r.worker, hostname: r.hostname, pid: r.pid, exitCode: r.exit_code,
    reason: r.reason, queuedAt: date(r.queued_at), startedAt: date(r.started_at), endedAt: date(r.ended_at),
    nextRetryAt: date(r.next_retry_at),
  };
}
