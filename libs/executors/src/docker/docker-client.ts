import type Docker from 'dockerode';

/**
 * A Docker API call that failed. `message` is Docker's own message (what a user should
 * see); `statusCode` is the HTTP status, null when the engine could not be reached.
 */
export class DockerError extends Error {
  override name = 'DockerError';

  constructor(
    /** What was attempted: `create container`, `pull swarmflow/busybox:test`, … */
    readonly operation: string,
    readonly statusCode: number | null,
    message: string,
  ) {
    super(message);
  }
}

/** Registry credentials as Docker's `X-Registry-Auth` takes them. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** A volume as listed by {@link DockerClient.listVolumes}. */
export interface VolumeSummary {
  name: string;
  labels: Record<string, string>;
}

/** A container as listed by {@link DockerClient.listContainers}. */
export interface ContainerSummary {
  id: string;
  name: string;
  /** Docker's state: `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`. */
  state: string;
  labels: Record<string, string>;
}

/** A stream of log frames, or the whole log at once when not following. */
export type LogSource = NodeJS.ReadableStream | Buffer;

/**
 * The few Docker Engine API calls Swarmflow needs, over one dockerode instance. Errors
 * are {@link DockerError}s carrying Docker's message. Connects as dockerode does: the
 * `DOCKER_HOST` environment variable (`unix://`, `tcp://`, with `DOCKER_TLS_VERIFY` and
 * `DOCKER_CERT_PATH`), else `/var/run/docker.sock`. Nothing is contacted before the
 * first call.
 */
export class DockerClient {
  readonly api: Docker;
  private archPromise: Promise<string> | null = null;

  constructor(options?: Docker.DockerOptions) {
    // Loaded on first use (~90 ms): workers and CLI commands that run no container never pay for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const DockerApi = require('dockerode') as typeof Docker;
    this.api = new DockerApi(options);
  }

  /** Resolves when the engine answers `/_ping`. */
  async ping(): Promise<void> {
    await call('ping', () => this.api.ping());
  }

  /** The engine's CPU architecture (`amd64`, `arm64`…), asked once. */
  arch(): Promise<string> {
    this.archPromise ??= call('version', () => this.api.version()).then((v) => v.Arch);
    this.archPromise.catch(() => (this.archPromise = null));
    return this.archPromise;
  }

  /** Whether the image is present locally. */
  async hasImage(image: string): Promise<boolean> {
    try {
      await call(`inspect image ${image}`, () => this.api.getImage(image).inspect());
      return true;
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** Pulls an image (its tag, `latest` when none), following the progress stream to its end. */
  async pull(image: string, auth: RegistryAuth | null, onStatus?: (status: string) => void): Promise<void> {
    const stream = await call(`pull ${image}`, () => this.api.pull(image, auth ? { authconfig: auth } : {}) as Promise<NodeJS.ReadableStream>);
    await new Promise<void>((resolve, reject) => {
      this.api.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(new DockerError(`pull ${image}`, null, err.message)) : resolve()),
        (event: { status?: string; id?: string }) => {
          if (event.status && !event.id) onStatus?.(event.status);
        },
      );
    });
  }

  /**
   * The digest an image reference runs: its first registry digest (`name@sha256:…`), or
   * its image id (`sha256:…`) when it has none (an image built or imported locally).
   */
  async imageDigest(image: string): Promise<string> {
    return (await this.imageDigests(image))[0];
  }

  /**
   * Every digest reference an image reference's content goes by: its registry digests (one
   * per repository it was pulled from), then its image id. The first is {@link imageDigest}.
   */
  async imageDigests(image: string): Promise<string[]> {
    const info = await call(`inspect image ${image}`, () => this.api.getImage(image).inspect());
    return [...(info.RepoDigests ?? []), info.Id];
  }

  /**
   * A file of a container (running or exited) as a tar archive, read up to `maxBytes` of
   * archive; `null` when the path does not exist. `truncated` when the archive was longer.
   */
  async readArchive(id: string, path: string, maxBytes: number): Promise<{ tar: Buffer; truncated: boolean } | null> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await call('copy a file out of the container', () => this.api.getContainer(id).getArchive({ path }) as Promise<NodeJS.ReadableStream>);
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 404) return null;
      throw err;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (size >= maxBytes) {
        truncated = true;
        (stream as unknown as { destroy?: () => void }).destroy?.();
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
    }
    return { tar: Buffer.concat(chunks), truncated };
  }

  /** Creates a container; returns its id. */
  async createContainer(options: Docker.ContainerCreateOptions): Promise<string> {
    const container = await call('create container', () => this.api.createContainer(options));
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    await call('start container', () => this.api.getContainer(id).start());
  }

  /** Waits until the container is not running; its exit code. */
  async waitContainer(id: string, signal?: AbortSignal): Promise<number> {
    const result = await call('wait for container', () => this.api.getContainer(id).wait({ abortSignal: signal }));
    return result.StatusCode as number;
  }

  /**
   * The container's log, demultiplexed by the caller ({@link LogDemuxer}). `follow` streams
   * until the container stops; `since` is a UNIX time in seconds (fractions allowed).
   */
  async logs(id: string, options: { follow: boolean; since?: number; tail?: number; timestamps?: boolean; signal?: AbortSignal }): Promise<LogSource> {
    const query: Record<string, unknown> = { stdout: true, stderr: true, follow: options.follow, abortSignal: options.signal };
    if (options.timestamps) query.timestamps = true;
    if (options.since !== undefined) query.since = options.since.toFixed(9);
    if (options.tail !== undefined) query.tail = options.tail;
    return call('read container logs', () => this.api.getContainer(id).logs(query as never) as unknown as Promise<LogSource>);
  }

  /** Sends the stop signal, then SIGKILL after `seconds`; resolves once it is stopped. A stopped or missing container is fine. */
  async stopContainer(id: string, seconds: number): Promise<void> {
    try {
      await call('stop container', () => this.api.getContainer(id).stop({ t: seconds }));
    } catch (err) {
      if (err instanceof DockerError && (err.statusCode === 304 || err.statusCode === 404)) return;
      throw err;
    }
  }

  /** Removes a container (killing it first when `force`); a missing one is fine. */
  async removeContainer(id: string, force = true): Promise<void> {
    try {
      await call('remove container', () => this.api.getContainer(id).remove({ force }));
    } catch (err) {
      // 404: already gone; 409 "removal already in progress".
      if (err instanceof DockerError && (err.statusCode === 404 || (err.statusCode === 409 && /already in progress/.test(err.message)))) return;
      throw err;
    }
  }

  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return call('inspect container', () => this.api.getContainer(id).inspect());
  }

  async renameContainer(id: string, name: string): Promise<void> {
    await call('rename container', () => this.api.getContainer(id).rename({ name }));
  }

  /** Writes a tar archive into the container's file system (volumes included) at `path`. */
  async putArchive(id: string, path: string, tar: Buffer): Promise<void> {
    await call('copy files into container', () => this.api.getContainer(id).putArchive(tar as never, { path }));
  }

  /** Every container (running or not) that carries all the given labels. */
  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const list = await call('list containers', () => this.api.listContainers({ all: true, filters: { label: labelFilters(labels) } }));
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), state: c.State, labels: c.Labels ?? {} }));
  }

  async createVolume(options: { name: string; labels: Record<string, string>; driverOpts: Record<string, string> }): Promise<void> {
    await call('create volume', () => this.api.createVolume({ Name: options.name, Driver: 'local', DriverOpts: options.driverOpts, Labels: options.labels }));
  }

  /** Removes a volume; a missing one is fine. Throws (409) while a container uses it. */
  async removeVolume(name: string): Promise<void> {
    try {
      await call('remove volume', () => this.api.getVolume(name).remove());
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 404) return;
      throw err;
    }
  }

  /** The volumes that carry all the given labels. */
  async listVolumes(labels: Record<string, string>): Promise<VolumeSummary[]> {
    const list = await call('list volumes', () => this.api.listVolumes({ filters: { label: labelFilters(labels) } }));
    return (list.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
  }
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

async function call<T>(operation: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    throw toDockerError(operation, err);
  }
}

/** Docker's own message of a dockerode error (`No such image: x:latest`), without dockerode's `(HTTP code 404) …` prefix. */
export function toDockerError(operation: string, err: unknown): DockerError {
  if (err instanceof DockerError) return err;
  const e = err as { statusCode?: number; json?: { message?: string } | null; reason?: string; message?: string; code?: string };
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : null;
  let message = typeof e.json?.message === 'string' ? e.json.message : undefined;
  if (message === undefined && Buffer.isBuffer(e.json)) message = parseMessage((e.json as Buffer).toString());
  if (message === undefined && typeof e.json === 'string') message = parseMessage(e.json);
  if (message === undefined) {
    message = statusCode === null && e.code
      ? `cannot reach the Docker engine (${e.code}${e.message ? `: ${e.message}` : ''})`
      : (e.message ?? String(err)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  }
  return new DockerError(operation, statusCode, message.trim());
}

function parseMessage(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : undefined;
  } catch {
    return text.trim() || undefined;
  }
}
