import {
  artifactsUrlOf, cacheKey, cacheNamespaceOf, imageWithRecordedDigest, renderCommand, renderTemplate, runArtifactsLocation, templateContext, tryArtifactsLocation,
  type ArtifactsLocation, type RenderedDefinition, type SignedTaskMessage, type TaskMessage, type TaskSpec, type UpstreamResult,
} from '@swarmflow/core';
import type { TaskInstance, VariableRecord, WorkerRecord } from '@swarmflow/persistence';
import { taskSecretContext, type ClusterKey, type TaskSigner } from '@swarmflow/secrets';
import type { RunFacts } from './run-cache';

/** Why a try cannot be dispatched at all; it fails with this reason (retrying would not help). */
export class DispatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DispatchError';
  }
}

/** Variables by key, as stored (a secret's value is its cluster-key token). */
export type VariableLookup = ReadonlyMap<string, VariableRecord>;

/**
 * The variables that say how to reach an S3-compatible artefacts store (for an s3://
 * `SWARMFLOW_ARTIFACTS_URL`): endpoint (empty or absent = AWS), region (default us-east-1),
 * access key id and secret access key (set them as secret variables).
 */
export const ARTIFACTS_S3_VARIABLES = ['artifacts_s3_endpoint', 'artifacts_s3_region', 'artifacts_s3_access_key_id', 'artifacts_s3_secret_access_key'];

/** The variable keys the given tasks need sealed into their messages. */
export function variableKeysOf(tasks: Iterable<TaskSpec>): string[] {
  const keys = new Set<string>();
  for (const task of tasks) {
    for (const key of task.secrets ?? []) keys.add(key);
    if (task.docker?.registryCredentials) keys.add(task.docker.registryCredentials);
  }
  return [...keys];
}

/**
 * A GPU task no live worker of its queue could ever run fails at once instead of waiting
 * forever. With no live worker on the queue it waits: one may come.
 */
export function checkGpuCapacity(task: TaskSpec, workers: readonly WorkerRecord[]): void {
  const wanted = task.docker?.gpus ?? 0;
  if (wanted === 0) return;
  const serving = workers.filter((w) => w.queues.includes(task.queue));
  if (serving.length === 0 || serving.some((w) => w.gpus >= wanted)) return;
  const most = Math.max(...serving.map((w) => w.gpus));
  const list = serving.map((w) => `${w.name}: ${w.gpus}`).join(', ');
  throw new DispatchError(
    `asks for ${wanted} GPU(s) but the workers of queue "${task.queue}" have at most ${most} (${list}). ` +
    `Fix: start a worker with --gpus listing ${wanted} GPU ids on that queue, or lower resources.gpus`,
  );
}

/**
 * The task message of one try: templates rendered against the run's params, conf and
 * dates; the variables it mounts and its registry credentials sealed with the cluster key
 * for this try (AES-GCM additional data: purpose, variable key, task instance, try), so
 * the broker never carries a plaintext secret and a ciphertext opens for no other try. A
 * secret's at-rest token is opened here and sealed again; a plain variable is sealed.
 */
export function buildTaskMessage(
  ti: TaskInstance, task: TaskSpec, f: RunFacts, variables: VariableLookup, key: ClusterKey | null, artifacts: ArtifactsLocation | null = null,
  results: RunResultsView = NO_RESULTS,
): TaskMessage {
  const rendered = renderDefinition(task, f, ti.taskId, ti.tryNumber, results);
  const message: TaskMessage = {
    tiId: ti.id, runPk: ti.runPk, dagId: ti.dagId, runId: f.run.runId, taskId: ti.taskId, tryNumber: ti.tryNumber, queue: task.queue,
    command: rendered.command, env: rendered.env, cwd: task.cwd, timeoutMs: task.timeoutMs,
    skipExitCode: task.skipExitCode, priority: task.priority, kind: task.kind ?? 'process',
  };
  if (task.cache) message.cacheKey = taskCacheKey(task, f, rendered, results, artifacts);
  if (task.kind === 'docker' && task.docker) {
    const d = task.docker;
    message.docker = rendered.docker!;
    if (rendered.imageRef !== null && rendered.imageRef !== rendered.docker!.image) message.imageRef = rendered.imageRef;
    message.secrets = (task.secrets ?? []).map((k) => ({ key: k, ciphertext: seal('secret', k, ti, variables, key) }));
    if (d.registryCredentials) message.registryAuth = seal('registry', d.registryCredentials, ti, variables, key);
  }
  if (artifacts) message.artifacts = artifactsOf(artifacts, ti, f, variables, key, results);
  return message;
}

/** The try's artefacts prefix, with the S3 settings sealed for it (s3:// only). */
function artifactsOf(
  base: ArtifactsLocation, ti: TaskInstance, f: RunFacts, variables: VariableLookup, key: ClusterKey | null, results: RunResultsView,
): TaskMessage['artifacts'] {
  const out: NonNullable<TaskMessage['artifacts']> = {
    url: artifactsUrlOf(tryArtifactsLocation(base, { dagId: ti.dagId, runId: f.run.runId, taskId: ti.taskId, tiId: ti.id, tryNumber: ti.tryNumber })),
    runUrl: artifactsUrlOf(runArtifactsLocation(base, ti.dagId, f.run.runId)),
  };
  // A cached task's files stay where its source try wrote them (another run, maybe another DAG).
  if (results.cached.size > 0) {
    out.cached = {};
    for (const [taskId, s] of results.cached) out.cached[taskId] = artifactsUrlOf(tryArtifactsLocation(base, s));
  }
  if (base.kind !== 's3') return out;
  const [endpoint, region, accessKeyId, secretAccessKey] = ARTIFACTS_S3_VARIABLES.map((k) => open(k, variables, key));
  if (accessKeyId === null || secretAccessKey === null) {
    throw new DispatchError(`the artefacts store ${artifactsUrlOf(base)} is in S3, and variable "${accessKeyId === null ? 'artifacts_s3_access_key_id' : 'artifacts_s3_secret_access_key'}" does not exist. ` +
      'Fix: swarmflow variables set artifacts_s3_access_key_id - --secret, and the same for artifacts_s3_secret_access_key (and artifacts_s3_endpoint for MinIO)');
  }
  const json = JSON.stringify({ endpoint: endpoint || null, region: region || 'us-east-1', accessKeyId, secretAccessKey });
  out.s3 = key!.encryptFor(json, taskSecretContext('secret', 'artifacts_s3', ti.id, ti.tryNumber));
  return out;
}

/** A variable's plaintext (a secret opened with the cluster key); null when it does not exist. */
function open(name: string, variables: VariableLookup, key: ClusterKey | null): string | null {
  const variable = variables.get(name);
  if (!variable) return null;
  if (!key) {
    throw new DispatchError(`variable "${name}" must be sealed for the task message, but the scheduler has no cluster key. Fix: set SWARMFLOW_CLUSTER_KEY (or SWARMFLOW_CLUSTER_KEY_FILE) on the scheduler`);
  }
  if (!variable.isSecret) return variable.value;
  try {
    return key.decrypt(variable.value);
  } catch (err) {
    throw new DispatchError(`secret variable "${name}" cannot be opened by the scheduler: ${(err as Error).message}`);
  }
}

/** What a run's tasks left that a task's message needs: upstream outputs and cache keys, recorded image digests. */
export interface RunResultsView {
  /** Outputs by task id (the ended tasks of the run that wrote some). */
  outputs: Record<string, Record<string, unknown>>;
  /** Cache keys and outputs by task id. */
  upstream: ReadonlyMap<string, UpstreamResult>;
  /** The run's version set (image reference → digest it ran), pinned ones only. */
  images: ReadonlyMap<string, string>;
  /** The run's `cached` tasks by task id: the try they took their outputs (and artefacts) from. */
  cached: ReadonlyMap<string, CachedSource>;
}

/** The executed try a cached task took its outputs from. */
export interface CachedSource {
  dagId: string;
  runId: string;
  taskId: string;
  tiId: number;
  tryNumber: number;
}

export const NO_RESULTS: RunResultsView = { outputs: {}, upstream: new Map(), images: new Map(), cached: new Map() };

/**
 * A task's command, env and container settings rendered for one try of a run, the image
 * replaced by the digest the run recorded for it (see imageWithRecordedDigest).
 * @throws TemplateRenderError
 */
export function renderDefinition(
  task: TaskSpec, f: RunFacts, taskId: string, tryNumber: number, results: RunResultsView,
): RenderedDefinition & { imageRef: string | null } {
  const ctx = templateContext({
    dagId: f.run.dagId, runId: f.run.runId, taskId, tryNumber,
    logicalDate: f.run.logicalDate, params: f.run.params, conf: f.run.conf, outputs: results.outputs,
  });
  const env = Object.fromEntries(Object.entries(task.env).map(([k, v]) => [k, renderTemplate(v, ctx, `env.${k}`)]));
  const d = task.docker;
  const imageRef = task.kind === 'docker' && d ? renderTemplate(d.image, ctx, 'docker.image') : null;
  const docker = task.kind === 'docker' && d ? {
    ...d,
    // An image id (no registry digest) cannot be pulled: with pull policy `always` the reference stays.
    image: d.pullPolicy === 'always' && !(results.images.get(imageRef!) ?? '').includes('@') ? imageRef! : imageWithRecordedDigest(imageRef!, results.images),
    entrypoint: d.entrypoint && d.entrypoint.map((part, i) => renderTemplate(part, ctx, `docker.entrypoint[${i}]`)),
  } : null;
  return { command: renderCommand(task.command, ctx), env, docker, imageRef };
}

/**
 * A cacheable task's cache key. The image counts as the DAG gives it (a digest when the DAG
 * pins one), not as the run's version set may have replaced it: the same definition gets
 * the same key in every run. The artefacts store (`SWARMFLOW_ARTIFACTS_URL`) counts when set:
 * a try cached under another store left its files there.
 */
export function taskCacheKey(
  task: TaskSpec, f: RunFacts, rendered: ReturnType<typeof renderDefinition>, results: RunResultsView, artifacts: ArtifactsLocation | null,
): string {
  const docker = rendered.docker && rendered.imageRef !== null ? { ...rendered.docker, image: rendered.imageRef } : rendered.docker;
  return cacheKey(cacheNamespaceOf(f.dag), task, { ...rendered, docker }, results.upstream, artifacts === null ? null : artifactsUrlOf(artifacts));
}

/**
 * Serializes a task message once and signs it: the body published on `swarmflow.tasks`
 * (and stored in the outbox as is, so a republished message carries the same signature).
 */
export function signTaskMessage(message: TaskMessage, signer: TaskSigner, issuedAt: number): SignedTaskMessage {
  const json = JSON.stringify(message);
  return { tiId: message.tiId, tryNumber: message.tryNumber, issuedAt, message: json, sig: signer.sign(issuedAt, json) };
}

function seal(purpose: 'secret' | 'registry', name: string, ti: TaskInstance, variables: VariableLookup, key: ClusterKey | null): string {
  const variable = variables.get(name);
  if (!variable) {
    throw new DispatchError(`variable "${name}" does not exist. Fix: swarmflow variables set ${name} - --secret (the value is read from stdin)`);
  }
  if (!key) {
    throw new DispatchError(`variable "${name}" must be sealed for the task message, but the scheduler has no cluster key. Fix: set SWARMFLOW_CLUSTER_KEY (or SWARMFLOW_CLUSTER_KEY_FILE) on the scheduler`);
  }
  let value = variable.value;
  if (variable.isSecret) {
    try {
      value = key.decrypt(variable.value);
    } catch (err) {
      throw new DispatchError(`secret variable "${name}" cannot be opened by the scheduler: ${(err as Error).message}`);
    }
  }
  return key.encryptFor(value, taskSecretContext(purpose, name, ti.id, ti.tryNumber));
}
