import { versionSetOf, type DockerSpec, type SerializedDag, type TaskSpec } from '@swarmflow/core';
import type { DagRecord, DagRun, ImportError, LogLine, TaskContainerRow, TaskInstance, TaskResult, WorkerRecord } from '@swarmflow/persistence';
import type {
  CacheEntryDto, DagDetailDto, DagSummaryDto, DockerSpecDto, ImportErrorDto, RunDetailDto, RunDto, RunRefDto, TaskInstanceDto, TaskSpecDto,
  TryContainerDto, TryResultDto, WorkerDto,
} from '@swarmflow/contracts/api.types';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toRunRefDto(run: DagRun): RunRefDto {
  return { runId: run.runId, state: run.state, logicalDate: run.logicalDate.toISOString() };
}

export function toDagSummaryDto(
  dag: DagRecord, version: SerializedDag, lastRun: DagRun | null, nextRun: Date | null, importError: ImportError | null = null,
  recentRuns: readonly DagRun[] = lastRun ? [lastRun] : [],
): DagSummaryDto {
  return {
    dagId: dag.dagId, fileloc: dag.fileloc, isPaused: dag.isPaused, isActive: dag.isActive, schedule: dag.schedule,
    latestVersion: dag.latestVersion, tags: version.tags, description: version.description,
    lastRun: lastRun ? toRunRefDto(lastRun) : null, recentRuns: recentRuns.map(toRunRefDto), nextRun: iso(nextRun),
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
    startedAt: iso(run.startedAt), endedAt: iso(run.endedAt), reason: run.reason, cacheForce: run.cacheForce,
  };
}

/**
 * A task instance; with its latest stored result, its outputs and (cached) the try it took
 * them from (`source`: that try's result, when known).
 */
export function toTaskInstanceDto(ti: TaskInstance, latest?: TaskResult): TaskInstanceDto {
  const current = latest && latest.tryNumber === ti.tryNumber ? latest : undefined;
  return {
    taskId: ti.taskId, state: ti.state, tryNumber: ti.tryNumber, maxTries: ti.maxTries, queue: ti.queue, pool: ti.pool,
    worker: ti.worker, hostname: ti.hostname, exitCode: ti.exitCode, reason: ti.reason, queuedAt: iso(ti.queuedAt),
    startedAt: iso(ti.startedAt), endedAt: iso(ti.endedAt), nextRetryAt: iso(ti.nextRetryAt),
    outputs: current?.outputs ?? null,
    cachedFrom: ti.state === 'cached' && current?.cachedFromRef && current.cachedFromTry !== null
      ? { ...current.cachedFromRef, tryNumber: current.cachedFromTry } : null,
  };
}

export function toTryResultDto(r: TaskResult): TryResultDto {
  return {
    tryNumber: r.tryNumber, succeeded: r.succeeded, outputs: r.outputs, image: r.image, imageDigest: r.imageDigest, cacheKey: r.cacheKey,
    cachedFrom: r.cachedFromTi === null || r.cachedFromTry === null ? null : { tiId: r.cachedFromTi, tryNumber: r.cachedFromTry },
    containerId: r.containerId, gpuDevices: r.gpuDevices, runtime: r.runtime,
    at: r.createdAt.toISOString(),
  };
}

export function toTryContainerDto(c: TaskContainerRow): TryContainerDto {
  return {
    tryNumber: c.tryNumber, containerId: c.containerId, worker: c.worker, image: c.image, imageDigest: c.imageDigest,
    gpuDevices: c.gpuDevices, runtime: c.runtime, startedAt: c.startedAt.toISOString(),
  };
}

/** A run with its task instances (their latest outputs) and its version set. */
export function toRunDetailDto(run: DagRun, tis: TaskInstance[], results: TaskResult[]): RunDetailDto {
  const latest = new Map<number, TaskResult>();
  for (const r of results) if ((latest.get(r.tiId)?.tryNumber ?? -1) < r.tryNumber) latest.set(r.tiId, r);
  return {
    ...toRunDto(run),
    taskInstances: tis.map((ti) => toTaskInstanceDto(ti, latest.get(ti.id))),
    images: [...versionSetOf(results)].map(([image, digest]) => ({ image, digest })),
  };
}

export function toCacheEntryDto(r: TaskResult): CacheEntryDto {
  return {
    key: r.cacheKey!, dagId: r.dagId, runId: r.runId, taskId: r.taskId, tryNumber: r.tryNumber, outputs: r.outputs,
    imageDigest: r.imageDigest, createdAt: r.createdAt.toISOString(),
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
