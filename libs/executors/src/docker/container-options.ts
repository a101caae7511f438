import type { DockerSpec } from '@swarmflow/core';
import type Docker from 'dockerode';
import { DEFAULT_PIDS_LIMIT } from './container-policy';
import type { RegistryAuth } from './docker-client';

/** Labels Swarmflow puts on its containers and volumes; the worker finds its own by them after a restart. */
export const LABELS = {
  /**
   * The installation ({@link installationOf}): a worker adopts and reaps only the
   * containers and volumes of its own, so installations sharing a Docker engine leave each
   * other's alone.
   */
  installation: 'swarmflow.installation',
  worker: 'swarmflow.worker',
  tiId: 'swarmflow.ti_id',
  tryNumber: 'swarmflow.try',
  dagId: 'swarmflow.dag_id',
  runId: 'swarmflow.run_id',
  taskId: 'swarmflow.task_id',
  /** `task`, `secrets-seed` (containers) or `secrets` (volumes). */
  role: 'swarmflow.role',
  /** `true` / `false`: the task's `autoRemove`, so that whoever ends the try knows whether to remove it. */
  autoRemove: 'swarmflow.auto_remove',
  /** Name of the try's secrets volume, to remove with the container. */
  secretsVolume: 'swarmflow.secrets_volume',
} as const;

/** The installation of a worker with no broker prefix, and of containers made before the label existed. */
export const DEFAULT_INSTALLATION = 'swarmflow';

/**
 * The `swarmflow.installation` value of the installation whose exchanges and queues carry
 * `brokerPrefix` (SWARMFLOW_BROKER_PREFIX): the prefix followed by `swarmflow`, as those
 * names begin (`swarmflow.tasks`, `ci-1.swarmflow.tasks`). Two prefixes never give one value.
 */
export function installationOf(brokerPrefix: string | undefined): string {
  return `${brokerPrefix ?? ''}${DEFAULT_INSTALLATION}`;
}

/**
 * Whether a container or volume with these labels belongs to `installation`. One without
 * the label was made by a version that had none: it belongs to the default installation,
 * the one such a version ran as unless given a prefix, so that its hand-overs are still
 * adopted and reaped after an upgrade there, and a test run or second installation with
 * a prefix never touches what it cannot tell is its own. Pure.
 */
export function ofInstallation(labels: Record<string, string>, installation: string): boolean {
  return (labels[LABELS.installation] ?? DEFAULT_INSTALLATION) === installation;
}

/** Which task instance try a container runs, and for which worker of which installation. */
export interface TaskIdentity {
  /** Default {@link DEFAULT_INSTALLATION}. */
  installation?: string;
  worker: string;
  tiId: number;
  tryNumber: number;
  dagId: string;
  runId: string;
  taskId: string;
}

/** The `swarmflow.*` labels that tie a container (and its secrets volume) to its task instance try. */
export function taskLabels(id: TaskIdentity): Record<string, string> {
  return {
    [LABELS.installation]: id.installation ?? DEFAULT_INSTALLATION,
    [LABELS.worker]: id.worker,
    [LABELS.tiId]: String(id.tiId),
    [LABELS.tryNumber]: String(id.tryNumber),
    [LABELS.dagId]: id.dagId,
    [LABELS.runId]: id.runId,
    [LABELS.taskId]: id.taskId,
  };
}

/** A secret handed to a container as the read-only file `<secretsPath>/<key>`. */
export interface SecretFile {
  key: string;
  value: string;
}

/** One try of a container task, as {@link runContainer} takes it. */
export interface ContainerSpec {
  docker: DockerSpec;
  /** A string runs through `/bin/sh -c` in the container; `[]` = the image's command. */
  command: string | string[];
  /** The container's whole environment besides the image's (the worker's own is not inherited). */
  env: Record<string, string>;
  /** Working directory in the container; null = the image's. */
  cwd: string | null;
  /** Wall-clock limit from the container's start (pulling excluded); null = none. */
  timeoutMs: number | null;
  /** Time between the stop signal and SIGKILL, rounded up to whole seconds (Docker's unit). Default 10000. */
  graceMs?: number;
  /**
   * Labels of the container, its secrets volume and seed: the try's identity
   * ({@link taskLabels}) and anything else to find them by. They win over
   * `docker.labels`; Swarmflow's own `swarmflow.role`, `swarmflow.auto_remove` and
   * `swarmflow.secrets_volume` win over both.
   */
  labels: Record<string, string>;
  /** Secrets, already decrypted: mounted from a tmpfs volume at `docker.secretsPath`, read-only. */
  secrets?: SecretFile[];
  /** GPU ids the worker assigned (as many as `docker.gpus`). */
  gpuIds?: string[];
  /**
   * For a task that asks for no GPU on a GPU host: sets `NVIDIA_VISIBLE_DEVICES=void` so an
   * image that sets it to `all` (CUDA images do) sees no GPU under an nvidia default runtime.
   */
  hideGpus?: boolean;
  /** Credentials for pulling `docker.image`; null = anonymous. */
  registryAuth?: RegistryAuth | null;
  /**
   * A cache hit to confirm: the image digest the cached try ran. The image is resolved as
   * for running it (pulled as its policy says); when it has this digest, no container is
   * created and the result says `cacheHit`; otherwise the try runs (a status line says why).
   */
  cachedDigest?: string;
  /** Container name; default `swarmflow-<ti_id>-<try>-<random>` when the labels name a try, else Docker's. */
  name?: string;
  /** Processes may not gain privileges (setuid, file capabilities): Docker's `no-new-privileges`. Default true. */
  noNewPrivileges?: boolean;
  /** Processes (threads included) the container may hold; 0 = no limit. Default {@link DEFAULT_PIDS_LIMIT}. */
  pidsLimit?: number;
  /**
   * A file the task may write its outputs to (e.g. `/swarmflow/output.json`): its folder is
   * created in the container (writable by any user) and the file read back when the
   * container exits with code 0, up to `maxBytes` (see ContainerResult.output). Default none.
   */
  output?: { path: string; maxBytes: number };
}

/** `'echo hi'` → `['/bin/sh', '-c', 'echo hi']`; `[]` → undefined (the image's command). */
export function containerCommand(command: string | string[]): string[] | undefined {
  if (typeof command === 'string') return ['/bin/sh', '-c', command];
  return command.length === 0 ? undefined : [...command];
}

/**
 * What `POST /containers/create` gets for a task container: command, entrypoint, env,
 * working dir, user, labels, no network unless asked, mounts, `no-new-privileges` and a
 * pids limit (unless the spec turns them off), CPU and memory limits, GPUs
 * (device requests or the `nvidia` runtime with `NVIDIA_VISIBLE_DEVICES`), and
 * `AutoRemove: false` always, because the executor removes the container itself once its
 * logs and exit code are read. Pure.
 */
export function containerCreateOptions(
  spec: ContainerSpec,
  extra: { name?: string; secretsVolume: string | null; labels?: Record<string, string> },
): Docker.ContainerCreateOptions {
  const { docker } = spec;
  const env: Record<string, string> = { ...spec.env };
  const gpuIds = spec.gpuIds ?? [];
  const host: Docker.HostConfig = {
    NetworkMode: docker.network || 'none',
    AutoRemove: false,
    Mounts: docker.volumes.map((v) => ({
      Type: v.source.startsWith('/') ? 'bind' : 'volume',
      Source: v.source,
      Target: v.target,
      ReadOnly: v.readOnly,
    })),
  };
  if (extra.secretsVolume !== null) {
    host.Mounts!.push({ Type: 'volume', Source: extra.secretsVolume, Target: docker.secretsPath, ReadOnly: true });
  }
  if (spec.noNewPrivileges ?? true) host.SecurityOpt = ['no-new-privileges:true'];
  const pidsLimit = spec.pidsLimit ?? DEFAULT_PIDS_LIMIT;
  if (pidsLimit > 0) host.PidsLimit = pidsLimit;
  if (docker.cpus !== null) host.NanoCpus = Math.round(docker.cpus * 1e9);
  if (docker.memoryBytes !== null) host.Memory = docker.memoryBytes;
  if (docker.runtime !== null) host.Runtime = docker.runtime;
  if (gpuIds.length > 0) {
    // Set in both modes: it also overrides an image's NVIDIA_VISIBLE_DEVICES=all under an nvidia default runtime.
    env.NVIDIA_VISIBLE_DEVICES = gpuIds.join(',');
    if (docker.gpuMode === 'device-request') {
      host.DeviceRequests = [{ Driver: 'nvidia', DeviceIDs: [...gpuIds], Capabilities: [['gpu']] }];
    } else {
      host.Runtime = docker.runtime ?? 'nvidia';
    }
  } else if (spec.hideGpus && env.NVIDIA_VISIBLE_DEVICES === undefined) {
    env.NVIDIA_VISIBLE_DEVICES = 'void';
  }
  const options: Docker.ContainerCreateOptions = {
    Image: docker.image,
    Cmd: containerCommand(spec.command),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...docker.labels,
      ...spec.labels,
      ...extra.labels,
      [LABELS.role]: 'task',
      [LABELS.autoRemove]: String(docker.autoRemove),
      ...(extra.secretsVolume !== null ? { [LABELS.secretsVolume]: extra.secretsVolume } : {}),
    },
    HostConfig: host,
  };
  if (extra.name !== undefined) options.name = extra.name;
  if (docker.entrypoint !== null) options.Entrypoint = [...docker.entrypoint];
  if (docker.user !== null) options.User = docker.user;
  if (spec.cwd !== null) options.WorkingDir = spec.cwd;
  return options;
}

/**
 * The owner of the secret files: the task's numeric `uid[:gid]` (gid defaults to the
 * uid), else root. A user given by name is resolved inside the image, which the worker
 * cannot do before the container runs: its files are then readable by all (0444).
 */
export function secretOwner(user: string | null): { uid: number; gid: number; fileMode: number; readableByAll: boolean } {
  if (user === null || user === '') return { uid: 0, gid: 0, fileMode: 0o400, readableByAll: false };
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!match) return { uid: 0, gid: 0, fileMode: 0o444, readableByAll: true };
  const uid = Number(match[1]);
  return { uid, gid: match[2] === undefined ? uid : Number(match[2]), fileMode: 0o400, readableByAll: false };
}
