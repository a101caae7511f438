import { createHash } from 'node:crypto';
import type { DockerSpec, SerializedDag, TaskSpec } from '../dag/dag.types';
import { canonicalJson } from '../dag/validate-dag';
import { checkTaskPattern } from '../patterns/task-pattern';

/**
 * The namespace of a DAG's cached tries: DAGs with the same one share them. Without one, the
 * DAG's own (`dag:<id>`): two teams' DAGs running the same `./export.sh` never take each
 * other's results unless both name a shared namespace.
 */
export function cacheNamespaceOf(dag: Pick<SerializedDag, 'cacheNamespace' | 'id'>): string {
  return dag.cacheNamespace ?? `dag:${dag.id}`;
}

/** What an ended upstream task contributes to a downstream task's cache key. */
export interface UpstreamResult {
  /** Its own cache key (a cacheable task), or null. */
  cacheKey: string | null;
  /** What it wrote to its output file, or null. */
  outputs: Record<string, unknown> | null;
}

/** A task's definition with its templates rendered, as a try would run it. */
export interface RenderedDefinition {
  command: string | string[];
  env: Record<string, string>;
  /** The container settings with image (a digest when pinned or recorded) and entrypoint rendered; null for process tasks. */
  docker: DockerSpec | null;
}

/**
 * The cache key of a cacheable task: sha256 (hex) of the canonical JSON of what decides its
 * result: the cache namespace, its kind, its rendered command, env and working directory,
 * for a container its image (as pinned or recorded: a digest when known), entrypoint, user,
 * volumes, runtime and GPUs, and for each direct upstream task its cache key, or else its
 * outputs. The params a task reads are in its rendered command and env; params it does not
 * read, the run id and the DAG id (unless its templates put them there) do not change it, so
 * DAGs of one namespace share identical tasks. With an artefacts store, its URL counts too: a
 * cached task's files stay under its source try's prefix in that store, so after the store
 * changes (file:// to s3://, another bucket) the old tries' files are not where a downstream
 * task would look, and the task runs again instead. Without a store, keys are as before. Pure.
 */
export function cacheKey(
  namespace: string, task: Pick<TaskSpec, 'kind' | 'cwd' | 'upstream'>, rendered: RenderedDefinition,
  upstream: ReadonlyMap<string, UpstreamResult>, artifactsStore: string | null = null,
): string {
  const d = rendered.docker;
  const material = {
    v: 1,
    namespace,
    ...(artifactsStore === null ? {} : { artifactsStore }),
    kind: task.kind,
    command: rendered.command,
    env: rendered.env,
    cwd: task.cwd,
    docker: d && { image: d.image, entrypoint: d.entrypoint, user: d.user, volumes: d.volumes, runtime: d.runtime, gpus: d.gpus },
    upstream: Object.fromEntries([...task.upstream].sort().map((id) => {
      const r = upstream.get(id);
      return [id, r?.cacheKey ?? (r?.outputs ? { outputs: r.outputs } : null)];
    })),
  };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** Whether a run's force pattern makes one of its tasks run although a cached try exists. */
export type CacheForceMatcher = (taskId: string) => boolean;

const NOTHING_FORCED: CacheForceMatcher = () => false;
const ALL_FORCED: CacheForceMatcher = () => true;

/**
 * The matcher of a run's force pattern (`dags trigger --force` = every task, `--force-task
 * <regex>`): the pattern is checked and compiled once, here, and the matcher is asked for
 * each task. A pattern is anchored at neither end, as `tasks clear --task` patterns are.
 * Build it once per run (the scheduler keeps it with the run's facts), not per task.
 */
export function cacheForceMatcher(force: string | null): CacheForceMatcher {
  if (force === null || force === undefined) return NOTHING_FORCED;
  let regex: RegExp;
  try {
    regex = checkTaskPattern('--force-task', force);
  } catch {
    // Checked when the run was triggered: only a pattern stored before the check gets here.
    return ALL_FORCED;
  }
  return (taskId) => regex.test(taskId);
}

/** Whether a successful try that ended at `endedAt` still serves as a cache hit at `now`. */
export function cacheEntryFresh(task: Pick<TaskSpec, 'cacheTtlMs'>, endedAt: Date, now: Date): boolean {
  return task.cacheTtlMs === undefined || now.getTime() - endedAt.getTime() <= task.cacheTtlMs;
}

/**
 * Whether a container image reference is pinned by digest (`name@sha256:…`, or an image id
 * `sha256:<64 hex>`): its content cannot change.
 */
export function imagePinnedByDigest(image: string): boolean {
  return image.includes('@sha256:') || IMAGE_ID.test(image);
}

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/**
 * Whether a cache hit of a task needs a worker to confirm it before the task ends `cached`:
 * a container task whose image, as the DAG gives it, is not pinned by digest. Its tag may
 * name other content than the cached try ran, and only a worker can resolve it. A process
 * task, or a pinned image, is decided by the scheduler alone.
 */
export function cacheHitNeedsWorker(task: Pick<TaskSpec, 'kind'>, imageRef: string | null): boolean {
  return task.kind === 'docker' && imageRef !== null && !imagePinnedByDigest(imageRef);
}

/**
 * A container image with the digest a run recorded for it, so that a try of a cleared task
 * runs the images its run ran ("version sets"). A reference pinned by digest stays as is.
 * `recorded` maps an image reference as the DAG renders it to the digest reference a try
 * ran (`name@sha256:…`, or an image id `sha256:…` for an image with no registry digest).
 */
export function imageWithRecordedDigest(image: string, recorded: ReadonlyMap<string, string>): string {
  if (imagePinnedByDigest(image)) return image;
  return recorded.get(image) ?? image;
}

/** One try's image, as its run records it. */
export interface RecordedImage {
  image: string | null;
  imageDigest: string | null;
  /** False once `tasks clear --latest-images` let the run take newer images. */
  imagePinned: boolean;
  createdAt: Date;
}

/**
 * A run's version set: the digest each image reference ran, from its newest try (with
 * `pinnedOnly`, among the tries whose digest still pins the run's next tries).
 */
export function versionSetOf(tries: readonly RecordedImage[], pinnedOnly = false): Map<string, string> {
  const out = new Map<string, { digest: string; at: number }>();
  for (const r of tries) {
    if (!r.image || !r.imageDigest || (pinnedOnly && !r.imagePinned)) continue;
    const seen = out.get(r.image);
    if (!seen || seen.at <= r.createdAt.getTime()) out.set(r.image, { digest: r.imageDigest, at: r.createdAt.getTime() });
  }
  return new Map([...out].map(([image, v]) => [image, v.digest]));
}
