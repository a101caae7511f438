import type { DockerSpec, SerializedDag, TaskSpec } from '@swarmflow/core';
import type { DagRecord, DagRun, ImportError, LogLine, TaskInstance, WorkerRecord } from '@swarmflow/persistence';
import type {
  DagDetailDto, DagSummaryDto, DockerSpecDto, ImportErrorDto, RunDto, RunRefDto, TaskInstanceDto, TaskSpecDto, WorkerDto,
} from './api.types';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toRunRefDto(run: DagRun): RunRefDto {
  return { runId: run.runId, state: run.state, logicalDate: run.logicalDate.toISOString() };
}

export function toDagSummaryDto(
  dag: DagRecord, version: SerializedDag, lastRun: DagRun | null, nextRun: Date | null, importError: ImportError | null = null,
): DagSummaryDto {
  return {
    dagId: dag.dagId, fileloc: dag.fileloc, isPaused: dag.isPaused, isActive: dag.isActive, schedule: dag.schedule,
    latestVersion: dag.latestVersion, tags: version.tags, description: version.description,
    lastRun: lastRun ? toRunRefDto(lastRun) : null, nextRun: iso(nextRun),
    importError: importError ? { message: importError.message, at: importError.at.toISOString() } : null,
  };
}

function toDockerSpecDto(docker: DockerSpec): DockerSpecDto {
  return {
    image: docker.image, pullPolicy: docker.pullPolicy, entrypoint: docker.entrypoint ? [...docker.entrypoint] : null,
    user: docker.user, volumes: docker.volumes.map((v) => ({ source: v.source, target: v.target, readOnly: v.readOnly })),
    network: docker.network, labels: { ...docker.labels }, registryCredentials: docker.registryCredentials, cpus: docker.cpus,
    memoryBytes: docker.memoryBytes, gpus: docker.gpus, gpuMode: docker.gpuMode, runtime: docker.runtime,
    autoRemove: docker.autoRemove, secretsPath: docker.secretsPath,
  };
}

export function toTaskSpecDto(task: TaskSpec): TaskSpecDto {
  const { id, docker, secrets, ...rest } = task;
  // Versions stored before container tasks have neither field: they are process tasks.
  return { taskId: id, ...rest, kind: task.kind ?? 'process', docker: docker ? toDockerSpecDto(docker) : null, secrets: [...(secrets ?? [])] };
}

export function toDagDetailDto(summary: DagSummaryDto, version: SerializedDag): DagDetailDto {
  return {
    ...summary, catchup: version.catchup, startDate: version.startDate, maxActiveRuns: version.maxActiveRuns,
    maxActiveTasks: version.maxActiveTasks, params: version.params, tasks: version.tasks.map(toTaskSpecDto),
  };
}

export function toRunDto(run: DagRun): RunDto {
  return {
    dagId: run.dagId, runId: run.runId, runType: run.runType, state: run.state, logicalDate: run.logicalDate.toISOString(),
    conf: run.conf, params: run.params, versionHash: run.versionHash, createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt), endedAt: iso(run.endedAt), reason: run.reason,
  };
}

export function toTaskInstanceDto(ti: TaskInstance): TaskInstanceDto {
  return {
    taskId: ti.taskId, state: ti.state, tryNumber: ti.tryNumber, maxTries: ti.maxTries, queue: ti.queue, pool: ti.pool,
    worker: ti.worker, hostname: ti.hostname, exitCode: ti.exitCode, reason: ti.reason, queuedAt: iso(ti.queuedAt),
    startedAt: iso(ti.startedAt), endedAt: iso(ti.endedAt), nextRetryAt: iso(ti.nextRetryAt),
  };
}

export function toImportErrorDto(e: ImportError): ImportErrorDto {
  return { fileloc: e.fileloc, message: e.message, at: e.at.toISOString() };
}

export function toWorkerDto(w: WorkerRecord, now: Date): WorkerDto {
  const seconds = (since: Date): number => Math.max(0, Math.round((now.getTime() - since.getTime()) / 100) / 10);
  return {
    name: w.name, hostname: w.hostname, queues: w.queues, concurrency: w.concurrency, gpus: w.gpus, state: w.state, running: w.running,
    firstSeenAt: w.firstSeenAt.toISOString(), lastHeartbeatAt: w.lastHeartbeatAt.toISOString(), heartbeatAgeSeconds: seconds(w.lastHeartbeatAt),
    processed: w.processed, failed: w.failed, startedAt: w.startedAt?.toISOString() ?? null,
    uptimeSeconds: w.startedAt && w.state !== 'stopped' && w.state !== 'lost' ? seconds(w.startedAt) : null,
    version: w.version, unacked: w.unacked,
  };
}

export function toLogLineDto(line: LogLine): LogLine {
  return { at: line.at, stream: line.stream, line: line.line };
}
