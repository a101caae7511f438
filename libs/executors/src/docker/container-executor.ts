import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { posix } from 'node:path';
import type Docker from 'dockerode';
import { DEFAULT_GRACE_MS, type KillCause, type OutputStream, type ProcessResult } from '../process/process-executor';
import { containerCreateOptions, DEFAULT_INSTALLATION, LABELS, ofInstallation, secretOwner, type ContainerSpec } from './container-options';
import { DockerClient, DockerError, type ContainerSummary, type LogSource } from './docker-client';
import { holdBinary } from './hold-binary';
import { LogDemuxer } from './log-demuxer';
import type { LineMask } from '../process/line-splitter';
import { firstTarFile, ustar, type TarEntry } from './ustar';

export interface ContainerHooks {
  /** Every complete line of the container's stdout and stderr, and the last partial one at the end. Must not throw. */
  onLine: (stream: OutputStream, line: string) => void;
  /** The executor stopped the container (`'timeout'` or the cancel reason); SIGKILL is reported when the grace period ran out. */
  onKill?: (signal: 'SIGTERM' | 'SIGKILL', cause: KillCause) => void;
  /** Steps worth a line in the task's log: pulling, the container's id, a failed clean-up. Must not throw. */
  onStatus?: (message: string) => void;
  /** Applied to each output line before it is cut at MAX_LINE_LENGTH (secret values → `***`). Default: none. */
  mask?: LineMask;
}

export interface ContainerResult extends ProcessResult {
  /**
   * Docker's exit code (a container the executor stopped reads 128 + the signal, e.g.
   * 137, and `signal` names it); null when it never ran or the exit code could not be read.
   */
  exitCode: number | null;
  /** The kernel killed the container for going over its memory limit. */
  oomKilled: boolean;
  /**
   * Set (true) when following the container failed for good: its exit code is unknown and
   * it may still be running (it is left as it is, for a later adoption). Absent otherwise.
   */
  containerMayRun?: true;
  /**
   * The output file (ContainerSpec.output) of a container that exited with code 0: its
   * content, or its size when over `maxBytes`. Absent when it wrote none (or was not asked).
   */
  output?: { content: Buffer } | { tooLarge: number };
  /** The digest the container's image ran (see DockerClient.imageDigest); absent when it never was created or the inspect failed. */
  imageDigest?: string;
  /**
   * Set (true) when the image still had the spec's `cachedDigest`: no container was created,
   * `imageDigest` is that digest, and `exitCode` is null.
   */
  cacheHit?: true;
  /**
   * Set (true) when the container was handed over ({@link ContainerRun.handOff}): it still
   * runs, unreported, for the next worker of the same name to adopt; `exitCode` is null.
   */
  handedOff?: true;
}

/** A container that started: its id and the digest its image runs. */
export interface ContainerStart {
  containerId: string;
  imageDigest: string | null;
}

export interface ContainerRun {
  /** Id of the task container once created; null before, or when it could not be created. */
  readonly containerId: string | null;
  /** Settles with the container id once it started, or null when it never did. */
  readonly started: Promise<string | null>;
  /**
   * Settles once the container started and the digest of its image was read (null when that
   * read failed): what a running try can report. Null when it never started, when it ended
   * before the digest was read, and for an adopted container.
   */
  readonly running: Promise<ContainerStart | null>;
  /** Settles once the container ended, its logs and exit code were read, and it (if asked) and its secrets volume were removed. Never rejects. */
  readonly result: Promise<ContainerResult>;
  /** Stops the container (stop signal, SIGKILL after the grace period); before it starts, it never starts. Idempotent. */
  cancel(reason?: string): void;
  /** Backpressure: stops (true) or resumes reading the container's log stream (Docker keeps the rest in its log). */
  pauseOutput(paused: boolean): void;
  /**
   * Stops following the container and leaves it running, for a worker of the same name to
   * adopt ({@link DockerExecutor.adopt}) before `untilMs` (ms since the epoch, this host's
   * clock): the log lines read so far go out, the place in the log they reach and `untilMs`
   * are recorded in the container's name, and `result` settles with `handedOff` (nothing
   * removed). So a stopping worker hands its containers over before its supervisor kills
   * it, and its successor goes on with the log where it stopped: no line lost, none twice.
   * Past `untilMs` an unadopted container is stopped and removed by
   * {@link DockerExecutor.reapHandedOver}. False (nothing done) unless the container runs
   * and is followed and is not being stopped.
   */
  handOff(untilMs: number): boolean;
}

/** How a re-adopted container is treated: what its worker knew of the try. */
export interface AdoptOptions {
  /** The try's timeout, counted from the container's start; null = none. */
  timeoutMs: number | null;
  graceMs?: number;
  /** Lines read back from a container that ended while no worker followed it. Default 50. */
  tailLines?: number;
}

/**
 * After the container exits, how long its log stream may take to end. It ends at once on a
 * quiet machine; 2 s lost a container's last line on a loaded one (CI, session 7).
 */
const LOG_DRAIN_MS = 5_000;
/**
 * Following a running container failed (the wait or the log stream broke, e.g. the Docker
 * daemon restarted): the waits before each look at it again, then the try is given up on.
 * About a minute in all: long enough for a daemon restart.
 */
export const DEFAULT_FOLLOW_RETRY_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000];
/** A wait that had lasted this long before it failed was following fine: the failures are counted afresh. */
const FOLLOW_HEALTHY_MS = 10_000;
const SEED_MOUNT = '/.swarmflow-secrets';
const HOLD_PATH = '/.swarmflow-hold';
/** A name suffix for kept containers whose end was reported, so a restarted worker does not report them again. */
export const REPORTED_SUFFIX = '-reported';
/**
 * Where a worker that handed a container over read its log up to: the `since` its log
 * stream was asked with (milliseconds since the epoch; 0 = from the log's start) and how
 * many frames of that stream it went through. The next reader asks for the log with the
 * same `since` and skips exactly that many frames: Docker serves it in the same order
 * every time, so no line is lost or passed on twice, whatever the frames' times.
 */
export interface HandOffMark {
  sinceMs: number;
  frames: number;
}

/**
 * A handed-over container's name ends with `-handoff-s<sinceMs>-n<frames>-u<untilMs>`: its
 * {@link HandOffMark}, and until when it waits for adoption. An adopting worker takes the
 * suffix off: a name that still has it is a container nobody adopted.
 */
const HANDOFF_SUFFIX = /-handoff-s(\d+)-n(\d+)-u(\d+)$/;

/** The name that records `mark` and the adoption deadline `untilMs` (any earlier mark replaced). */
export function handOffName(name: string, mark: HandOffMark, untilMs: number): string {
  return `${adoptedName(name)}-handoff-s${Math.trunc(mark.sinceMs)}-n${Math.trunc(mark.frames)}-u${Math.trunc(untilMs)}`;
}

/** The mark and adoption deadline a handed-over container's name records; null for any other name. */
export function handOffMark(name: string): (HandOffMark & { untilMs: number }) | null {
  const m = HANDOFF_SUFFIX.exec(name);
  return m ? { sinceMs: Number(m[1]), frames: Number(m[2]), untilMs: Number(m[3]) } : null;
}

/** The name without its hand-over suffix: what an adopting worker renames the container to. */
function adoptedName(name: string): string {
  return name.replace(HANDOFF_SUFFIX, '');
}

/**
 * A container handed over with less time than this left before its deadline is not adopted
 * any more (stopped instead): a reaper on its engine may be about to stop it (see
 * {@link DockerExecutor.reapHandedOver}), and the scheduler to retry its try.
 */
const ADOPT_MARGIN_MS = 2_000;

/** Docker's `since` (seconds) for a log stream from `sinceMs` (0 = the whole log). */
function sinceSeconds(sinceMs: number): number | undefined {
  return sinceMs === 0 ? undefined : sinceMs / 1000;
}

export interface DockerExecutorOptions {
  /** See {@link DEFAULT_FOLLOW_RETRY_DELAYS_MS}; its length bounds the attempts. */
  followRetryDelaysMs?: readonly number[];
}

/**
 * Runs task containers on a Docker engine as siblings of the worker (only the Docker
 * API is used: the worker may itself run in a container), and finds the ones a worker
 * left behind. One instance per engine; {@link runContainer} uses a shared default one.
 */
export class DockerExecutor {
  private readonly followRetryDelaysMs: readonly number[];

  constructor(readonly client: DockerClient = new DockerClient(), options: DockerExecutorOptions = {}) {
    this.followRetryDelaysMs = options.followRetryDelaysMs ?? DEFAULT_FOLLOW_RETRY_DELAYS_MS;
  }

  /**
   * Runs one try: pulls the image as its policy says, prepares the secrets volume,
   * creates and starts the container, streams its log lines, applies the timeout and
   * cancel (stop → SIGKILL after the grace period), reads the exit code, then removes the
   * container when `autoRemove` and always the secrets volume. Never throws: a try that
   * cannot start resolves with `error` set to Docker's message. A broken wait or log stream
   * is not the end of the try: while the container runs it is followed again (bounded
   * attempts, then `error` says so and the container is left for a later adoption).
   */
  run(spec: ContainerSpec, hooks: ContainerHooks): ContainerRun {
    const attempt = new ContainerTry(this.client, hooks, spec.graceMs ?? DEFAULT_GRACE_MS, this.followRetryDelaysMs);
    return attempt.handle(attempt.execute(spec));
  }

  /**
   * Takes over a container found by {@link listTaskContainers} after a worker restart:
   * a running one is followed from now on (log lines from this moment, the exit code, the
   * rest of its timeout); one that already ended gives its exit code and last log lines.
   * Then it is removed as its `swarmflow.auto_remove` label says, with its secrets volume.
   */
  adopt(container: ContainerSummary, hooks: ContainerHooks, options: AdoptOptions): ContainerRun {
    const attempt = new ContainerTry(this.client, hooks, options.graceMs ?? DEFAULT_GRACE_MS, this.followRetryDelaysMs);
    return attempt.handle(attempt.adopt(container, options));
  }

  /**
   * Task containers of a worker of `installation` ({@link ofInstallation}), running or
   * ended, except kept ones already reported. One with no installation label and this
   * worker's name counts in any installation: a version without the label made it, most
   * likely this worker's own before an upgrade (a rolling update hands its containers over
   * to the new version), and leaving it would run its try twice once it is retried as lost.
   */
  async listTaskContainers(worker: string, installation = DEFAULT_INSTALLATION): Promise<ContainerSummary[]> {
    const all = await this.client.listContainers({ [LABELS.worker]: worker, [LABELS.role]: 'task' });
    return all.filter((c) => (ofInstallation(c.labels, installation) || c.labels[LABELS.installation] === undefined) && !c.name.endsWith(REPORTED_SUFFIX));
  }

  /**
   * Stops (stop signal, SIGKILL after `graceMs`) and removes, with their secrets volumes, the
   * task containers on this engine of `installation` ({@link ofInstallation}; of any
   * worker, `labels` narrow it) that were handed over and not adopted by their deadline:
   * their name still has the hand-over suffix (an adopter takes it off) and its deadline is
   * past. Their tries are the scheduler's to retry, as lost. Returns the containers removed;
   * a failure on one is passed to `onError` and the others go on.
   */
  async reapHandedOver(options: {
    installation?: string; labels?: Record<string, string>; graceMs?: number; now?: number; onError?: (c: ContainerSummary, err: unknown) => void;
  } = {}): Promise<ContainerSummary[]> {
    const now = options.now ?? Date.now();
    const installation = options.installation ?? DEFAULT_INSTALLATION;
    const all = await this.client.listContainers({ ...options.labels, [LABELS.role]: 'task' });
    const expired = all.filter((c) => {
      const mark = handOffMark(c.name);
      return mark !== null && mark.untilMs <= now && ofInstallation(c.labels, installation);
    });
    const reaped: ContainerSummary[] = [];
    for (const c of expired) {
      try {
        await removeHandedOver(this.client, c, options.graceMs ?? DEFAULT_GRACE_MS);
        reaped.push(c);
      } catch (err) {
        options.onError?.(c, err);
      }
    }
    return reaped;
  }

  /**
   * Removes what a worker of `installation` that stopped abruptly may have left: seed
   * containers, and secrets volumes that no container uses (a volume still in use is
   * kept). Returns what was removed.
   */
  async reap(worker: string, installation = DEFAULT_INSTALLATION): Promise<{ seeds: number; volumes: number }> {
    const mine = <T extends { labels: Record<string, string> }>(all: T[]): T[] => all.filter((x) => ofInstallation(x.labels, installation));
    const seeds = mine(await this.client.listContainers({ [LABELS.worker]: worker, [LABELS.role]: 'secrets-seed' }));
    for (const seed of seeds) await this.client.removeContainer(seed.id, true);
    let volumes = 0;
    for (const { name } of mine(await this.client.listVolumes({ [LABELS.worker]: worker, [LABELS.role]: 'secrets' }))) {
      try {
        await this.client.removeVolume(name);
        volumes++;
      } catch (err) {
        if (!(err instanceof DockerError && err.statusCode === 409)) throw err;
      }
    }
    return { seeds: seeds.length, volumes };
  }
}

/** Stops and removes a container nobody adopted in time, and its secrets volume; a container already gone counts as removed. */
async function removeHandedOver(client: DockerClient, c: ContainerSummary, graceMs: number): Promise<void> {
  try {
    if (c.state === 'running' || c.state === 'paused' || c.state === 'restarting') await client.stopContainer(c.id, Math.max(0, Math.ceil(graceMs / 1000)));
    await client.removeContainer(c.id, true);
  } catch (err) {
    if (!(err instanceof DockerError && err.statusCode === 404)) throw err;
  }
  const volume = c.labels[LABELS.secretsVolume];
  if (volume) await client.removeVolume(volume).catch(() => undefined);
}

let defaultExecutor: DockerExecutor | null = null;

/** The executor {@link runContainer} uses: one {@link DockerClient} per process, made on first use. */
export function defaultDockerExecutor(): DockerExecutor {
  defaultExecutor ??= new DockerExecutor();
  return defaultExecutor;
}

/** {@link DockerExecutor.run} on the default executor: the container counterpart of `runProcess`. */
export function runContainer(spec: ContainerSpec, hooks: ContainerHooks): ContainerRun {
  return defaultDockerExecutor().run(spec, hooks);
}

/** A failure with a message meant for the task's log as it is. */
class TryError extends Error {}

/** Following the container failed for good: its state is unknown, it may still run. */
class LostTrackError extends TryError {}

/** The container was handed over ({@link ContainerRun.handOff}): it runs on, followed by no one here. */
class HandedOffError extends Error {}

/** One container try: its state between the async steps, and the stop logic shared by run and adopt. */
class ContainerTry {
  id: string | null = null;
  private cancelled = false;
  private timedOut = false;
  /** Why the container is being stopped; set once. */
  private stopCause: KillCause | null = null;
  private exited = false;
  /** The log stream read last and its `since` (ms; 0 = the whole log), until its demuxer is ended. */
  private lastStream: { sinceMs: number; demux: LogDemuxer } | null = null;
  /** Following the container failed for good ({@link LostTrackError}). */
  private lostTrack = false;
  /** The log stream being read, paused while the reader asks for it ({@link ContainerRun.pauseOutput}). */
  private logSource: NodeJS.ReadableStream | null = null;
  private outputPaused = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private markStarted!: (id: string | null) => void;
  readonly started = new Promise<string | null>((resolve) => (this.markStarted = resolve));
  private markRunning!: (start: ContainerStart | null) => void;
  readonly running = new Promise<ContainerStart | null>((resolve) => (this.markRunning = resolve));
  /** The container's name as created or found, for the hand-over's rename. */
  private name: string | null = null;
  /** Set while {@link follow} follows the running container (what {@link ContainerRun.handOff} needs). */
  private following = false;
  private readonly handOffAbort = new AbortController();
  private handedOff = false;
  /** The adoption deadline given to {@link ContainerRun.handOff} (ms since the epoch). */
  private handOffUntilMs = 0;

  constructor(
    private readonly client: DockerClient,
    private readonly hooks: ContainerHooks,
    private readonly graceMs: number,
    private readonly followRetryDelaysMs: readonly number[],
  ) {}

  handle(result: Promise<ContainerResult>): ContainerRun {
    const self = this;
    return {
      get containerId() {
        return self.id;
      },
      started: this.started,
      running: this.running,
      result,
      cancel: (reason = 'cancel') => {
        if (this.exited || this.cancelled) return;
        this.cancelled = true;
        this.stop(reason);
      },
      pauseOutput: (paused) => this.pauseOutput(paused),
      handOff: (untilMs: number) => {
        if (!this.following || this.exited || this.stopCause !== null || this.handOffAbort.signal.aborted) return false;
        this.handOffUntilMs = untilMs;
        this.handOffAbort.abort();
        return true;
      },
    };
  }

  private pauseOutput(paused: boolean): void {
    this.outputPaused = paused;
    if (paused) this.logSource?.pause();
    else this.logSource?.resume();
  }

  async execute(spec: ContainerSpec): Promise<ContainerResult> {
    const { docker } = spec;
    let volume: string | null = null;
    let seedId: string | null = null;
    let seedRemoval: Promise<void> = Promise.resolve();
    let exitCode: number | null = null;
    let ran = false;
    let error: string | null = null;
    let oomKilled = false;
    let output: ContainerResult['output'];
    let imageDigest: string | undefined;
    let digestRead: Promise<unknown> = Promise.resolve();
    try {
      const gpuIds = spec.gpuIds ?? [];
      if (gpuIds.length !== docker.gpus) throw new TryError(`the task needs ${docker.gpus} GPU(s) but was given ${gpuIds.length} GPU id(s)`);
      if (docker.pullPolicy === 'always') await this.pull(spec);
      if (spec.cachedDigest !== undefined) {
        // The recorded digest may be any name of the same content (a registry digest, or the image id).
        const current = await this.currentDigests(spec);
        if (current.includes(spec.cachedDigest)) {
          this.status(`cache hit confirmed: image ${docker.image} is still ${spec.cachedDigest}, the digest the cached try ran: no container is created`);
          return { ...this.outcome(null, null), imageDigest: spec.cachedDigest, cacheHit: true };
        }
        this.status(`cache hit refused: image ${docker.image} is now ${current[0]}, the cached try ran ${spec.cachedDigest}: the task runs`);
      }
      const tryTag = [spec.labels[LABELS.tiId], spec.labels[LABELS.tryNumber]].filter((x) => x !== undefined).join('-');
      const suffix = randomBytes(4).toString('hex');
      if ((spec.secrets ?? []).length > 0 && !this.cancelled) {
        volume = `swarmflow-secrets-${tryTag ? `${tryTag}-` : ''}${suffix}`;
        seedId = await this.prepareSecrets(spec, volume, (id) => (seedId = id));
      }
      if (this.cancelled) return this.outcome(null, null);
      this.name = spec.name ?? `swarmflow-${tryTag || 'task'}-${suffix}`;
      const options = containerCreateOptions(spec, { name: this.name, secretsVolume: volume });
      this.id = await this.createPulling(spec, options);
      // Read alongside the try, off its critical path.
      const digest = this.client.imageDigest(docker.image).then((d) => (imageDigest = d), (err) => {
        this.status(`could not read the digest of image ${docker.image}: ${message(err)}`);
      });
      digestRead = digest;
      if (spec.output) {
        // A folder any user of the image can write to (sticky, as /tmp), for the task's output file.
        const dir = posix.dirname(spec.output.path).replace(/^\/+/, '');
        await this.client.putArchive(this.id, '/', ustar([{ name: dir, type: 'directory', mode: 0o1777, uid: 0, gid: 0 }]));
      }
      if (this.cancelled) return this.outcome(null, null);
      await this.client.startContainer(this.id);
      ran = true;
      this.hooks.onStatus?.(`container ${this.id.slice(0, 12)} started (image ${docker.image})`);
      this.markStarted(this.id);
      const started = this.id;
      void digestRead.then(() => this.markRunning({ containerId: started, imageDigest: imageDigest ?? null }));
      // A cancel that landed while the start was in flight stopped a container not yet running
      // (Docker answers 304, nothing happens): stop it again now that it runs.
      if (this.stopCause !== null) this.restop();
      if (seedId !== null) {
        // The task container now holds the tmpfs mounted; the seed has done its job.
        const seed = seedId;
        seedId = null;
        seedRemoval = this.removeContainer(seed, 'the secrets seed container').then(() => undefined);
      }
      if (spec.timeoutMs !== null) this.armTimeout(spec.timeoutMs);
      exitCode = await this.follow(this.id, { sinceMs: 0, frames: 0 });
      oomKilled = await this.oomKilled(this.id, exitCode);
      if (spec.output && exitCode === 0) output = await this.readOutput(this.id, spec.output);
    } catch (err) {
      if (err instanceof HandedOffError) this.handedOff = true;
      else error = this.failure(err);
    } finally {
      this.ended();
      await seedRemoval;
      if (seedId !== null) await this.removeContainer(seedId, 'the secrets seed container');
      // Never lose the exit code: a container whose end could not be read stays for the next worker to adopt.
      const removable = this.id !== null && docker.autoRemove && (exitCode !== null || !ran);
      let containerGone = this.id === null;
      if (removable) {
        containerGone = await this.removeContainer(this.id!, `container ${this.id!.slice(0, 12)}`);
      } else if (this.id !== null && exitCode !== null) {
        await this.markReported(this.id);
      }
      if (volume !== null) {
        if (containerGone) await this.client.removeVolume(volume).catch((err) => this.status(`could not remove the secrets volume ${volume}: ${message(err)}`));
        else if (!this.handedOff) this.status(`secrets volume ${volume} is kept with the container (it is empty once the container stopped)`);
      }
    }
    await digestRead;
    const result = this.outcome(exitCode, error, oomKilled);
    if (output) result.output = output;
    if (imageDigest) result.imageDigest = imageDigest;
    return result;
  }

  /** The output file of an exited container; undefined when it wrote none. */
  private async readOutput(id: string, file: { path: string; maxBytes: number }): Promise<ContainerResult['output']> {
    // The archive adds a header (and padding) to the file: read a little more than the cap.
    const archive = await this.client.readArchive(id, file.path, file.maxBytes + 4 * 1024);
    if (archive === null) return undefined;
    const found = firstTarFile(archive.tar);
    if (found === null) return undefined;
    if (found.size > file.maxBytes) return { tooLarge: found.size };
    return { content: found.content };
  }

  async adopt(container: ContainerSummary, options: AdoptOptions): Promise<ContainerResult> {
    this.id = container.id;
    this.name = container.name;
    // Handed over by its last worker: the log goes on where that worker stopped reading it.
    const mark = handOffMark(container.name);
    let exitCode: number | null = null;
    let error: string | null = null;
    let oomKilled = false;
    /** Only a container that never started is removed without an exit code; any other error leaves it as it is. */
    let neverStarted = false;
    /** Removed already (handed over and not adopted in time). */
    let removed = false;
    try {
      const info = await this.client.inspectContainer(container.id);
      const state = info.State;
      if (state.Status === 'created') {
        neverStarted = true;
        throw new TryError('the container was created but never started (its worker stopped first)');
      }
      if ((state.Running || state.Status === 'paused' || state.Status === 'restarting') && mark !== null && mark.untilMs <= Date.now() + ADOPT_MARGIN_MS) {
        // Too late: its try is (about to be) retried elsewhere, and a reaper may stop it any moment.
        await removeHandedOver(this.client, container, this.graceMs);
        removed = true;
        throw new TryError(`the container was handed over until ${new Date(mark.untilMs).toISOString()} and not adopted in time: ` +
          'stopped and removed, its try is retried as lost (SWARMFLOW_HANDOFF_TIMEOUT)');
      }
      if (state.Running || state.Status === 'paused' || state.Status === 'restarting') {
        if (mark !== null) await this.takeOver(container);
        this.markStarted(container.id);
        if (options.timeoutMs !== null) this.armTimeout(Math.max(0, Date.parse(state.StartedAt) + options.timeoutMs - Date.now()));
        exitCode = await this.follow(container.id, mark ?? { sinceMs: Date.now(), frames: 0 });
      } else if (mark !== null) {
        exitCode = state.ExitCode;
        const demux = new LogDemuxer(this.hooks.onLine, true, this.hooks.mask ?? null);
        demux.skipFrames(mark.frames);
        const log = await this.client.logs(container.id, { follow: false, since: sinceSeconds(mark.sinceMs), timestamps: true });
        this.status(`the container ended (exit code ${exitCode}) after its worker handed it over; the log lines it wrote since follow`);
        if (Buffer.isBuffer(log)) demux.write(log);
        demux.end();
      } else {
        exitCode = state.ExitCode;
        const tail = options.tailLines ?? 50;
        const lines: { stream: OutputStream; line: string }[] = [];
        const demux = new LogDemuxer((stream, line) => lines.push({ stream, line }), false, this.hooks.mask ?? null);
        const log = await this.client.logs(container.id, { follow: false, tail });
        if (Buffer.isBuffer(log)) demux.write(log);
        demux.end();
        this.status(`the container ended (exit code ${exitCode}) while no worker followed it; its last ${lines.length} log line(s) follow, some may repeat`);
        for (const { stream, line } of lines) this.hooks.onLine(stream, line);
      }
      oomKilled = await this.oomKilled(container.id, exitCode);
    } catch (err) {
      if (err instanceof HandedOffError) this.handedOff = true;
      else error = this.failure(err);
    } finally {
      this.ended();
      const volume = container.labels[LABELS.secretsVolume];
      let gone = false;
      // Never on an error while following it (a Docker daemon restart): a healthy container would be killed.
      if (removed) {
        // Gone with its secrets volume.
      } else if (container.labels[LABELS.autoRemove] !== 'false' && (exitCode !== null || neverStarted)) {
        gone = await this.removeContainer(container.id, `container ${container.id.slice(0, 12)}`);
      } else if (exitCode !== null) {
        await this.markReported(container.id, container.name);
      }
      if (volume && gone) await this.client.removeVolume(volume).catch((err) => this.status(`could not remove the secrets volume ${volume}: ${message(err)}`));
    }
    return this.outcome(exitCode, error, oomKilled);
  }

  /**
   * Streams the log lines until the container exits; its exit code. A failed wait or log
   * stream is not the end: see {@link waitForExit} and {@link streamLogs}.
   */
  private async follow(id: string, from: HandOffMark): Promise<number> {
    const abort = new AbortController();
    /** Aborted once the exit code is known: wakes the log reader from a pause between streams. */
    const exit = new AbortController();
    const logsDone = this.streamLogs(id, from, abort.signal, exit.signal);
    this.following = true;
    const handOff = (): void => {
      abort.abort();
      exit.abort();
    };
    this.handOffAbort.signal.addEventListener('abort', handOff, { once: true });
    try {
      let code: number;
      try {
        code = await this.waitForExit(id);
      } catch (err) {
        if (!this.handOffAbort.signal.aborted) throw err;
        await logsDone;
        const stream = this.lastStream;
        // No stream open (between two attempts): the next reader starts from now, like a stream opened again.
        await this.recordHandOff(id, stream ? { sinceMs: stream.sinceMs, frames: stream.demux.framesThrough() } : { sinceMs: Date.now(), frames: 0 });
        throw new HandedOffError('handed over');
      }
      this.exited = true;
      exit.abort();
      // The log stream ends with the container; a stuck one is cut after LOG_DRAIN_MS, and
      // what it delivered (a last line without its newline) is passed on before the result.
      let drainTimer: NodeJS.Timeout | undefined;
      // Paused output is not given up on: the drain period counts while it is read.
      const drainWait = (resolve: (drained: boolean) => void): void => {
        drainTimer = setTimeout(() => (this.outputPaused ? drainWait(resolve) : resolve(false)), LOG_DRAIN_MS);
      };
      const drained = await Promise.race([logsDone.then(() => true), new Promise<boolean>(drainWait)]);
      clearTimeout(drainTimer);
      if (!drained) {
        abort.abort();
        await logsDone;
      }
      await this.catchUpLogs(id);
      return code;
    } finally {
      this.following = false;
      this.handOffAbort.signal.removeEventListener('abort', handOff);
      exit.abort();
      abort.abort();
      // The wait failed for good (or the container was handed over): what the stream delivered still goes out.
      this.lastStream?.demux.end();
      this.lastStream = null;
    }
  }

  /**
   * Takes the hand-over suffix off an adopted container's name (its mark is in `container`
   * already): a name with it is one nobody adopted, which reapers stop once its deadline is past.
   */
  private async takeOver(container: ContainerSummary): Promise<void> {
    const name = adoptedName(container.name);
    try {
      await this.client.renameContainer(container.id, name);
      this.name = name;
    } catch (err) {
      this.status(`could not rename the adopted container ${container.id.slice(0, 12)} (it may be stopped as not adopted once its hand-over deadline is past): ${message(err)}`);
    }
  }

  /** Records in the container's name where its log was read up to, for the worker that adopts it next. */
  private async recordHandOff(id: string, mark: HandOffMark): Promise<void> {
    try {
      const current = this.name ?? (await this.client.inspectContainer(id)).Name.replace(/^\//, '');
      const name = handOffName(current, mark, this.handOffUntilMs);
      await this.client.renameContainer(id, name);
      this.name = name;
      this.status(`container ${id.slice(0, 12)} handed over, still running: the next worker of this name follows it from here`);
    } catch (err) {
      this.status(`container ${id.slice(0, 12)} handed over, still running, but where its log was read up to could not be recorded ` +
        `(the next worker follows it from when it adopts it; lines in between are missing): ${message(err)}`);
    }
  }

  /**
   * The container's exit code. A wait that fails (the daemon restarted, the connection
   * broke) is followed by an inspect: a container that ended meanwhile gives its exit
   * code, a running one is waited for again. After the bounded attempts (or when the
   * container is gone) throws {@link LostTrackError}; the container is then left as it is.
   */
  private async waitForExit(id: string): Promise<number> {
    const short = id.slice(0, 12);
    let failures = 0;
    for (;;) {
      const began = Date.now();
      let failure: unknown;
      try {
        return await this.client.waitContainer(id, this.handOffAbort.signal);
      } catch (err) {
        if (this.handOffAbort.signal.aborted) throw new HandedOffError('handed over');
        failure = err;
      }
      if (Date.now() - began >= FOLLOW_HEALTHY_MS) failures = 0;
      for (;;) {
        const delay = this.followRetryDelaysMs[failures];
        if (delay === undefined) {
          throw new LostTrackError(`lost track of container ${short}: ${message(failure)} (still failing after ${failures} attempt(s)); ` +
            'it may still be running and is left as it is');
        }
        failures++;
        this.status(`waiting for container ${short} failed (${message(failure)}); looking at it again in ${delay} ms`);
        await sleep(delay);
        let state: Docker.ContainerInspectInfo['State'];
        try {
          state = (await this.client.inspectContainer(id)).State;
        } catch (err) {
          if (err instanceof DockerError && err.statusCode === 404) throw new LostTrackError(`container ${short} is gone: its exit code cannot be read`);
          failure = err;
          continue;
        }
        if (!isRunning(state)) return state.ExitCode;
        this.status(`container ${short} is still running; following it again`);
        break;
      }
    }
  }

  /**
   * Streams the container's log lines until `signal` aborts or the container is seen ended.
   * A stream that ends or fails while the container still runs is opened again from that
   * moment (lines in between may repeat or be missed), with the same bounded attempts.
   */
  private async streamLogs(id: string, since: HandOffMark, signal: AbortSignal, exit: AbortSignal): Promise<void> {
    // From a mark: the frames the worker that handed the container over went through are left out.
    let skip = since.frames;
    let fromMs = since.sinceMs;
    let failures = 0;
    for (;;) {
      this.lastStream?.demux.end();
      this.lastStream = null;
      const began = Date.now();
      const demux = new LogDemuxer(this.hooks.onLine, true, this.hooks.mask ?? null);
      demux.skipFrames(skip);
      skip = 0;
      // Not ended here: once the container has exited, follow() reads what this stream missed into it.
      this.lastStream = { sinceMs: fromMs, demux };
      let failure: unknown = null;
      try {
        const source = await this.client.logs(id, { follow: true, since: sinceSeconds(fromMs), timestamps: true, signal });
        failure = await drain(source, demux, (stream) => {
          this.logSource = stream;
          if (this.outputPaused) stream.pause();
        });
      } catch (err) {
        failure = err;
      }
      if (signal.aborted || this.exited) return;
      fromMs = Date.now();
      if (Date.now() - began >= FOLLOW_HEALTHY_MS) failures = 0;
      // Usually the container has exited and its wait returns within the pause; else the daemon restarted.
      const delay = this.followRetryDelaysMs[failures++];
      const why = failure === null ? 'ended' : `failed (${message(failure)})`;
      if (delay === undefined) {
        this.status(`the container's log stream ${why} while it runs; giving up on its log after ${failures - 1} attempt(s)`);
        demux.end();
        this.lastStream = null;
        return;
      }
      await sleep(delay, exit);
      if (signal.aborted || this.exited) return;
      try {
        if (!isRunning((await this.client.inspectContainer(id)).State)) return;
      } catch (err) {
        if (err instanceof DockerError && err.statusCode === 404) return;
        // The daemon may still be down: try the stream again (it counts as another failure).
      }
      if (signal.aborted || this.exited) return;
      this.status(`the container's log stream ${why} while it runs; reading it again`);
    }
  }

  /**
   * Docker may end a follow stream when the container stops before it has logged the
   * container's last output (an unterminated last line is logged only at the end of its
   * pipe): once the container has exited, its log is read once more from the time of the
   * last frame the stream passed on, what it had not passed on goes out, then the last
   * partial lines. Costs one request per container, for what was logged since that time.
   */
  private async catchUpLogs(id: string): Promise<void> {
    const stream = this.lastStream;
    this.lastStream = null;
    if (stream === null) return;
    try {
      const log = await this.client.logs(id, { follow: false, since: stream.demux.resumeSince() ?? sinceSeconds(stream.sinceMs), timestamps: true });
      if (Buffer.isBuffer(log)) stream.demux.catchUp(log);
    } catch (err) {
      this.status(`could not read the container's log once more after its exit (its last lines may be missing): ${message(err)}`);
    } finally {
      stream.demux.end();
    }
  }

  private async oomKilled(id: string, exitCode: number | null): Promise<boolean> {
    // Only a 137 the executor did not cause may be the OOM killer's; one inspect to know.
    if (exitCode !== 137 || this.stopCause !== null) return false;
    try {
      return (await this.client.inspectContainer(id)).State.OOMKilled === true;
    } catch {
      return false;
    }
  }

  private armTimeout(ms: number): void {
    this.timeoutTimer = setTimeout(() => {
      if (this.exited) return;
      this.timedOut = true;
      this.stop('timeout');
    }, ms);
  }

  /** Stop signal now, SIGKILL by Docker after the grace period. Before the container exists, the flags keep it from starting. */
  private stop(cause: KillCause): void {
    if (this.stopCause !== null || this.exited) return;
    this.stopCause = cause;
    if (this.id === null) return;
    this.hooks.onKill?.('SIGTERM', cause);
    this.sendStop(this.id, cause);
  }

  /** The message a failed try reports; notes when the container was lost track of. */
  private failure(err: unknown): string {
    if (err instanceof LostTrackError) this.lostTrack = true;
    return err instanceof TryError ? err.message : message(err);
  }

  /** The try is over, whatever happened: no more timers, no more stops. */
  private ended(): void {
    this.exited = true;
    this.markStarted(null);
    this.markRunning(null);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.killTimer);
  }

  /** Force-removes a container; a failure is reported, never thrown. Whether it is gone. */
  private removeContainer(id: string, what: string): Promise<boolean> {
    return this.client.removeContainer(id, true).then(() => true, (err) => {
      this.status(`could not remove ${what}: ${message(err)}`);
      return false;
    });
  }

  /**
   * The stop was requested while the container was being started: Docker took it for a
   * container not running yet (304, a no-op). Sends it again, with the grace period afresh.
   */
  private restop(): void {
    if (this.stopCause === null || this.exited || this.id === null) return;
    clearTimeout(this.killTimer);
    this.sendStop(this.id, this.stopCause);
  }

  private sendStop(id: string, cause: KillCause): void {
    const seconds = Math.max(0, Math.ceil(this.graceMs / 1000));
    this.killTimer = setTimeout(() => {
      if (!this.exited) this.hooks.onKill?.('SIGKILL', cause);
    }, seconds * 1000);
    this.client.stopContainer(id, seconds).catch((err) => this.status(`could not stop container ${id.slice(0, 12)}: ${message(err)}`));
  }

  /** The digests of the image the container would run now (DockerClient.imageDigests); a missing image is pulled first unless the policy says never, as for the container. */
  private async currentDigests(spec: ContainerSpec): Promise<string[]> {
    const image = spec.docker.image;
    try {
      return await this.client.imageDigests(image);
    } catch (err) {
      if (!(err instanceof DockerError && err.statusCode === 404)) throw err;
      if (spec.docker.pullPolicy === 'never') throw new TryError(`image "${image}" is not present and pull policy is never`);
      if (spec.docker.pullPolicy === 'always') throw err;
      await this.pull(spec);
      return this.client.imageDigests(image);
    }
  }

  /** Creates the container; a missing image is pulled first unless the policy says never. */
  private async createPulling(spec: ContainerSpec, options: Docker.ContainerCreateOptions): Promise<string> {
    try {
      return await this.client.createContainer(options);
    } catch (err) {
      if (!(err instanceof DockerError && err.statusCode === 404 && /no such image/i.test(err.message))) throw err;
      if (spec.docker.pullPolicy === 'never') throw new TryError(`image "${spec.docker.image}" is not present and pull policy is never`);
      if (spec.docker.pullPolicy === 'always') throw err;
      await this.pull(spec);
      return this.client.createContainer(options);
    }
  }

  private async pull(spec: ContainerSpec): Promise<void> {
    const image = spec.docker.image;
    this.status(`pulling image ${image}`);
    try {
      await this.client.pull(image, spec.registryAuth ?? null);
    } catch (err) {
      throw new TryError(`cannot pull image "${image}": ${message(err)}`);
    }
    this.status(`pulled image ${image}`);
  }

  /**
   * Creates the tmpfs volume and fills it through a seed container of the task's image
   * that runs a tiny blocking binary ({@link holdBinary}): the local driver empties a
   * tmpfs volume as soon as no running container holds it, so the seed keeps it mounted
   * until the task container has started. Only the Docker API is used, no host path.
   * Returns the seed's id (the caller removes it).
   */
  private async prepareSecrets(spec: ContainerSpec, volume: string, onSeed: (id: string) => void): Promise<string> {
    const labels = { ...spec.docker.labels, ...spec.labels };
    const owner = secretOwner(spec.docker.user);
    // The tmpfs root belongs to the task's user (a tar entry for "." does not change it).
    const rootDir = !owner.readableByAll ? `mode=0700,uid=${owner.uid},gid=${owner.gid}` : 'mode=0755';
    await this.client.createVolume({
      name: volume,
      labels: { ...labels, [LABELS.role]: 'secrets' },
      driverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=1m,${rootDir}` },
    });
    const hold = holdBinary(await this.client.arch());
    if (hold === null) throw new TryError(`secrets cannot be mounted on a ${await this.client.arch()} Docker engine (only amd64 and arm64 are supported)`);
    const seedId = await this.createPulling(spec, {
      Image: spec.docker.image,
      Entrypoint: [HOLD_PATH],
      Cmd: [],
      User: '0:0',
      WorkingDir: '/',
      Labels: { ...labels, [LABELS.role]: 'secrets-seed' },
      HostConfig: {
        NetworkMode: 'none', AutoRemove: false,
        Mounts: [{ Type: 'volume', Source: volume, Target: SEED_MOUNT, ReadOnly: false }],
      },
    });
    onSeed(seedId);
    await this.client.putArchive(seedId, '/', ustar([{ name: HOLD_PATH.slice(1), type: 'file', content: hold, mode: 0o755, uid: 0, gid: 0 }]));
    await this.client.startContainer(seedId);
    const entries: TarEntry[] = [];
    for (const { key, value } of spec.secrets ?? []) {
      entries.push({ name: key, type: 'file', content: Buffer.from(value, 'utf8'), mode: owner.fileMode, uid: owner.uid, gid: owner.gid });
    }
    await this.client.putArchive(seedId, SEED_MOUNT, ustar(entries));
    return seedId;
  }

  private async markReported(id: string, name?: string): Promise<void> {
    try {
      const current = name ?? (await this.client.inspectContainer(id)).Name.replace(/^\//, '');
      if (!current.endsWith(REPORTED_SUFFIX)) await this.client.renameContainer(id, `${current}${REPORTED_SUFFIX}`);
    } catch (err) {
      this.status(`could not mark the kept container ${id.slice(0, 12)} as reported: ${message(err)}`);
    }
  }

  private outcome(exitCode: number | null, error: string | null, oomKilled = false): ContainerResult {
    const stoppedBySignal = this.stopCause !== null && exitCode !== null && exitCode > 128;
    const result: ContainerResult = {
      exitCode, signal: stoppedBySignal ? signalName(exitCode - 128) : null,
      timedOut: this.timedOut, cancelled: this.cancelled, error, lost: null, oomKilled,
    };
    if (this.lostTrack && exitCode === null) result.containerMayRun = true;
    if (this.handedOff) result.handedOff = true;
    return result;
  }

  private status(text: string): void {
    this.hooks.onStatus?.(text);
  }
}

/** Feeds the stream to the demuxer until it ends; null then, or the stream's error. */
function drain(source: LogSource, demux: LogDemuxer, opened: (stream: NodeJS.ReadableStream) => void): Promise<unknown> {
  if (Buffer.isBuffer(source)) {
    demux.write(source);
    return Promise.resolve(null);
  }
  opened(source);
  return new Promise((resolve) => {
    source.on('data', (chunk: Buffer) => demux.write(chunk));
    source.once('end', () => resolve(null));
    source.once('close', () => resolve(null));
    source.once('error', (err) => resolve(err ?? new Error('log stream error')));
  });
}

/** Whether a container is still there to wait for (paused and restarting ones too). */
function isRunning(state: Docker.ContainerInspectInfo['State']): boolean {
  return state.Running || state.Status === 'paused' || state.Status === 'restarting';
}

/** Resolves after `ms`, or as soon as `wake` aborts. */
function sleep(ms: number, wake?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (wake?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      wake?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    wake?.addEventListener('abort', done, { once: true });
  });
}

function signalName(signo: number): string | null {
  const entry = Object.entries(constants.signals).find(([, n]) => n === signo);
  return entry ? entry[0] : null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
