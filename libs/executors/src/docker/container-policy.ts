import type { DockerSpec } from '@swarmflow/core';
import path from 'node:path';

/**
 * What a worker's operator lets DAG authors do with containers on that worker's host
 * (`--allow-mounts`, `--allow-host-network`, `--allow-privileged`, `--allow-runtimes`,
 * `--pids-limit`). The defaults allow nothing that reaches the host: a bind mount, the
 * host's network namespace, a runtime other than Docker's default or `nvidia` are root
 * on the worker's host in the wrong hands.
 */
export interface ContainerPolicy {
  /** Host path prefixes bind mounts may come from; `'any'` allows every path (the Docker socket and `/` too); `[]` none. */
  allowMounts: readonly string[] | 'any';
  /** `network: host` and `network: container:<id>` (another container's namespace). */
  allowHostNetwork: boolean;
  /** Containers run without `no-new-privileges` (setuid programs such as sudo can gain privileges in them). */
  allowPrivileged: boolean;
  /** OCI runtimes a task may ask for besides Docker's default (`nvidia` by default); `'any'` = every one. */
  allowRuntimes: readonly string[] | 'any';
  /** Processes (threads included) a container may hold; 0 = no limit. */
  pidsLimit: number;
}

/** A fork bomb stops here; PyTorch data loaders with many threads stay well under it. */
export const DEFAULT_PIDS_LIMIT = 4096;

export const DEFAULT_CONTAINER_POLICY: ContainerPolicy = {
  allowMounts: [], allowHostNetwork: false, allowPrivileged: false, allowRuntimes: ['nvidia'], pidsLimit: DEFAULT_PIDS_LIMIT,
};

/** Named volumes Swarmflow makes for a try's secrets: no task may mount another's. */
const OWN_VOLUME_PREFIX = 'swarmflow-secrets-';
const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];

/**
 * Why `docker` may not run under `policy`, naming the setting and the worker option that
 * would allow it; null when it may. Pure. Paths are compared after normalization
 * (`/data/../etc` is `/etc`); symbolic links on the host are not followed, so an allowed
 * prefix must not hold links DAG authors can create.
 */
export function containerPolicyViolation(docker: DockerSpec, policy: ContainerPolicy, worker: string): string | null {
  for (const volume of docker.volumes) {
    if (!volume.source.startsWith('/')) {
      if (volume.source.startsWith(OWN_VOLUME_PREFIX)) {
        return `volumes: "${volume.source}" is a Swarmflow secrets volume (another try's secrets); a task cannot mount it`;
      }
      continue;
    }
    const source = path.posix.normalize(volume.source);
    if (policy.allowMounts === 'any' || policy.allowMounts.some((prefix) => within(source, prefix))) continue;
    const socket = DOCKER_SOCKETS.includes(source) ? ' (the Docker socket: root on the host)' : source === '/' ? ' (the host\'s whole file system)' : '';
    return `volumes: host path ${source}${socket} may not be mounted on worker ${worker}. ` +
      `Fix: its operator allows it with --allow-mounts ${source === '/' ? 'any' : source} (SWARMFLOW_WORKER_ALLOW_MOUNTS: host path prefixes, comma-separated, or any), or use a named volume`;
  }
  if ((docker.network === 'host' || docker.network.startsWith('container:')) && !policy.allowHostNetwork) {
    return `network: "${docker.network}" shares a network namespace outside the container, which worker ${worker} does not allow. ` +
      'Fix: its operator allows it with --allow-host-network (SWARMFLOW_WORKER_ALLOW_HOST_NETWORK=true), or use a Docker network by name';
  }
  const runtime = docker.runtime ?? (docker.gpus > 0 && docker.gpuMode === 'runtime' ? 'nvidia' : null);
  if (runtime !== null && policy.allowRuntimes !== 'any' && !policy.allowRuntimes.includes(runtime)) {
    const allowed = policy.allowRuntimes.length ? policy.allowRuntimes.join(',') : 'none';
    return `runtime: "${runtime}" is not among the runtimes worker ${worker} allows (${allowed}). ` +
      `Fix: its operator adds it with --allow-runtimes ${[...policy.allowRuntimes, runtime].join(',')} (SWARMFLOW_WORKER_ALLOW_RUNTIMES)`;
  }
  return null;
}

function within(source: string, prefix: string): boolean {
  const p = path.posix.normalize(prefix);
  if (p === '/') return true;
  const base = p.endsWith('/') ? p.slice(0, -1) : p;
  return source === base || source.startsWith(`${base}/`);
}
