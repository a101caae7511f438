import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { directArgv } from './direct-command';
import { LineSplitter, MAX_LINE_LENGTH, type LineMask } from './line-splitter';
import { nativeSpawnerPath, sharedSpawner, type NativeSpawner } from './native-spawner';

export { nativeSpawnerPath, shutdownSpawner } from './native-spawner';

export type OutputStream = 'stdout' | 'stderr';

/** Why the executor signalled the process group: `'timeout'`, or the reason given to `cancel()`. */
export type KillCause = string;

export interface ProcessSpec {
  /**
   * A string runs through `/bin/sh -c` (one that is only literal words runs without the
   * shell, to the same effect: see {@link directArgv}); an array is exec'd directly
   * (argv[0] looked up in PATH).
   */
  command: string | string[];
  /** Added to `baseEnv`; the caller passes the task's `SWARMFLOW_*` variables here. */
  env: Record<string, string>;
  /**
   * What the process inherits before `env` is added. Default: {@link inheritedEnv}, read
   * at every call; a worker passes one snapshot taken at its start instead.
   */
  baseEnv?: Readonly<Record<string, string>>;
  /**
   * Run as this user instead of the caller's (needs root): through Node's spawner, with
   * `HOME`, `USER` and `LOGNAME` of that user and no supplementary groups. null = the caller's.
   */
  runAs?: RunAsUser | null;
  /** Working directory; null = the worker's. */
  cwd: string | null;
  /** Wall-clock limit; null = none. */
  timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL of the process group. Default 10000. */
  graceMs?: number;
  /** Called for every complete line, and for the last partial line at exit. Must not throw. */
  onLine: (stream: OutputStream, line: string) => void;
  /** Applied to each line before it is cut at {@link MAX_LINE_LENGTH} (secret values → `***`). Default: none. */
  mask?: LineMask;
  /**
   * Called once the process has started, before any of its lines; the node spawner calls
   * it before `runProcess` returns. Must not throw.
   */
  onSpawn?: (pid: number) => void;
  /** Called when the executor signals the process group (for the task's log). */
  onKill?: (signal: 'SIGTERM' | 'SIGKILL', cause: KillCause) => void;
}

/** A user to run process tasks as (`--run-as-user`). */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface ProcessResult {
  /** Exit code of the process; null when a signal ended it or it never started. */
  exitCode: number | null;
  /** Signal that ended the process (`SIGTERM`, `SIGKILL`, …), or null. */
  signal: string | null;
  /** The timeout fired (the process was then terminated). */
  timedOut: boolean;
  /** `cancel()` was called before the process ended. */
  cancelled: boolean;
  /** Why the process could not be started (missing cwd or binary…); null when it ran. */
  error: string | null;
  /**
   * Why the process was lost while it ran, its end unknown: the spawner that watched it
   * died (its process group is then killed, so nothing of it runs on unwatched). Null
   * otherwise.
   */
  lost: string | null;
}

export interface ProcessRun {
  /**
   * Pid of the process, which is also its process group id, once it has started; null
   * before (the native spawner reports it a moment later) and when it could not start.
   */
  readonly pid: number | null;
  /** Settles with the pid once the process has started, or with null when it could not start. Never rejects. */
  readonly spawned: Promise<number | null>;
  /** Settles when the process and its output are done; never rejects. */
  readonly result: Promise<ProcessResult>;
  /** SIGTERM to the process group, SIGKILL after the grace period. Idempotent; a no-op once ended. */
  cancel(reason?: string): void;
  /**
   * Backpressure: stops reading the process's output (`paused` true) until called with
   * false. Its pipe then fills and the process blocks in write(); a few chunks already read
   * may still arrive. The drain period after the exit waits for the resume. A no-op once ended.
   */
  pauseOutput(paused: boolean): void;
}

/** How `runProcess` starts processes: Node's `child_process.spawn`, or the `sf-spawner` helper. */
export type ProcessSpawner = 'node' | 'native';

export const DEFAULT_GRACE_MS = 10_000;

/** After the main process exits, how long its output pipes may stay open (held by a process that left the group). */
const PIPE_DRAIN_MS = 2_000;

/** `node`, `native` or `auto` (default: `native` when `sf-spawner` is built, else `node`). */
const SPAWNER_VARIABLE = 'SWARMFLOW_PROCESS_SPAWNER';

const active = new Set<ProcessRun>();

/**
 * Runs a command in its own process group (a new session), streaming its output line by
 * line. Timeout and cancel send SIGTERM to the whole group, then SIGKILL after
 * `graceMs`. When the main process exits, whatever it left running in its group is
 * killed: nothing of a finished task outlives it. Never throws: a spawn failure
 * resolves with `error` set, a process whose native spawner died under it with `lost`
 * (its group killed).
 *
 * The process is started by the native spawner when it is built (see
 * {@link selectedSpawner}), else by Node's `child_process.spawn`; both give the same
 * results and error texts.
 */
export function runProcess(spec: ProcessSpec): ProcessRun {
  const cwdError = spec.cwd === null ? null : checkDirectory(spec.cwd);
  if (cwdError !== null) return settledRun({ ...notStarted(), error: cwdError });

  const direct = typeof spec.command === 'string' ? directArgv(spec.command) : null;
  const argv = typeof spec.command === 'string' ? direct ?? shellArgv(spec.command) : spec.command;
  if (argv[0] === undefined || argv[0] === '') return settledRun({ ...notStarted(), error: 'empty command' });

  const runAs = spec.runAs ?? null;
  // sf-spawner cannot change users: a task run as another user goes through Node's spawn.
  const spawner = runAs !== null ? { binary: null } : chooseSpawner();
  if ('error' in spawner) return settledRun({ ...notStarted(), error: spawner.error });

  const run = new TrackedRun(spec);
  active.add(run);
  const baseEnv = spec.baseEnv ?? inheritedEnv();
  // The native spawner holds the base environment: only the task's own variables cross per task.
  const env = spawner.binary === null ? { ...baseEnv, ...spec.env } : { ...spec.env };
  if (runAs !== null) Object.assign(env, { HOME: runAs.home, USER: runAs.name, LOGNAME: runAs.name });
  const start = (argv: readonly string[], fallback: (() => void) | null): void => {
    if (spawner.binary === null) startWithNode(run, argv, env, spec.cwd, fallback, runAs);
    else startWithSpawner(run, spawner.binary, argv, baseEnv, env, spec.cwd, fallback);
  };
  if (direct === null) {
    start(argv, null);
  } else {
    // What the shell would have exported; a program that cannot start goes through the shell after all.
    env.PWD = shellPwd(spec.cwd, env.PWD ?? baseEnv.PWD);
    start(direct, () => start(shellArgv(spec.command as string), null));
  }
  return run;
}

/**
 * The spawner `runProcess` uses now, from `SWARMFLOW_PROCESS_SPAWNER` (`node`, `native`,
 * or `auto`/unset: `native` when `sf-spawner` is built). Throws naming the variable when
 * it is set to anything else, or to `native` while the helper is not built.
 */
export function selectedSpawner(): ProcessSpawner {
  const spawner = chooseSpawner();
  if ('error' in spawner) throw new Error(spawner.error);
  return spawner.binary === null ? 'node' : 'native';
}

function chooseSpawner(): { binary: string | null } | { error: string } {
  const setting = process.env[SPAWNER_VARIABLE] ?? '';
  if (setting === 'node') return { binary: null };
  if (setting === 'native') {
    const binary = nativeSpawnerPath();
    return binary !== null ? { binary } : { error: `${SPAWNER_VARIABLE} is native, but sf-spawner is not built: run \`npm run build:native\` (needs a C compiler)` };
  }
  if (setting === 'auto' || setting === '') return { binary: nativeSpawnerPath() };
  return { error: `${SPAWNER_VARIABLE} must be node, native or auto, got ${JSON.stringify(setting)}` };
}

function shellArgv(command: string): string[] {
  return ['/bin/sh', '-c', command];
}

/**
 * The `PWD` the shell gives the command it runs: the inherited one when the task runs in
 * the worker's directory (where it holds), else the physical path of the task's directory.
 */
function shellPwd(cwd: string | null, inherited: string | undefined): string {
  if (cwd === null) return inherited ?? process.cwd();
  try {
    return realpathSync.native(cwd);
  } catch {
    return cwd;
  }
}

/**
 * @param fallback called instead of failing when the program cannot start (a direct-run
 *   command then goes through the shell)
 */
function startWithNode(
  run: TrackedRun, argv: readonly string[], env: Record<string, string>, cwd: string | null, fallback: (() => void) | null, runAs: RunAsUser | null = null,
): void {
  const [file, ...args] = argv;
  let child: ChildProcess;
  try {
    const user = runAs === null ? {} : { uid: runAs.uid, gid: runAs.gid };
    child = spawn(file, args, { cwd: cwd ?? undefined, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  } catch (err) {
    if (fallback !== null) fallback();
    else run.finish(null, `cannot start ${JSON.stringify(file)}: ${errorMessage(err)}`);
    return;
  }
  const pid = child.pid;
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  run.signalGroup = signalGroup;
  run.pauseReading = (paused) => {
    for (const pipe of [child.stdout, child.stderr]) {
      if (paused) pipe?.pause();
      else pipe?.resume();
    }
  };
  child.stdout?.on('data', (chunk: Buffer) => run.output('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => run.output('stderr', chunk));

  let exit: ProcessExit | null = null;
  let drainTimer: NodeJS.Timeout | undefined;
  child.once('error', (err) => {
    // Spawn failure (no such binary, permission denied…): no 'exit' follows.
    if (exit !== null) return;
    if (fallback !== null && pid === undefined) fallback();
    else run.finish(null, `cannot start ${JSON.stringify(file)}: ${errorMessage(err)}`);
  });
  child.once('exit', (code, signal) => {
    const ended = { code, signal };
    exit = ended;
    run.mainExited();
    // Leftovers of the task in its group (`cmd &` without wait) are killed with it.
    signalGroup('SIGKILL');
    const drained = (): void => {
      // Paused output is not given up on: the drain period counts while it is read.
      if (run.outputPaused) {
        drainTimer = setTimeout(drained, PIPE_DRAIN_MS);
        return;
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      run.finish(ended, null);
    };
    drainTimer = setTimeout(drained, PIPE_DRAIN_MS);
  });
  child.once('close', () => {
    if (exit === null) return;
    clearTimeout(drainTimer);
    run.finish(exit, null);
  });
  if (pid !== undefined) run.started(pid);
}

function startWithSpawner(
  run: TrackedRun, binary: string, argv: readonly string[], baseEnv: Readonly<Record<string, string>>, env: Record<string, string>,
  cwd: string | null, fallback: (() => void) | null,
): void {
  let spawner: NativeSpawner;
  try {
    spawner = sharedSpawner(binary);
  } catch (err) {
    run.finish(null, `process spawner ${binary} could not start: ${errorMessage(err)}`);
    return;
  }
  // The spawner's own SIGKILL of the group's leftovers and its drain period (the same
  // PIPE_DRAIN_MS) come before `exited`.
  const id = spawner.run({ argv, baseEnv, env, cwd }, {
    spawned: (pid) => run.started(pid),
    output: (stream, bytes) => run.output(stream, bytes),
    exited: (code, signal) => {
      run.mainExited();
      run.finish({ code, signal }, null);
    },
    failed: (error, notStarted) => {
      // Only when exec failed: a spawner that died under the task may have left it running.
      if (notStarted && fallback !== null) fallback();
      else if (notStarted) run.finish(null, error);
      else run.lose(error);
    },
  });
  run.signalGroup = (signal) => spawner.kill(id, signal);
  run.pauseReading = (paused) => spawner.pause(id, paused);
}

interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/**
 * The state of one `runProcess` call, whichever spawner runs it: pid, output lines,
 * timeout and kill timers, and the result. The spawner reports to it (`started`,
 * `output`, `mainExited`, `finish`) and gives it `signalGroup`.
 */
class TrackedRun implements ProcessRun {
  readonly spawned: Promise<number | null>;
  readonly result: Promise<ProcessResult>;
  /** Sends a signal to the process group; set by the spawner. */
  signalGroup: (signal: NodeJS.Signals) => void = () => undefined;
  /** Stops or resumes reading the output pipes; set by the spawner. */
  pauseReading: (paused: boolean) => void = () => undefined;
  /** {@link pauseOutput} was last called with true. */
  outputPaused = false;

  private pidValue: number | null = null;
  private resolveSpawned!: (pid: number | null) => void;
  private resolveResult!: (result: ProcessResult) => void;
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  private readonly graceMs: number;
  private timedOut = false;
  private cancelled = false;
  /** The main process has exited (or never started): nothing is signalled any more. */
  private exited = false;
  private settled = false;
  /** A cancel or timeout asked for before the pid was known, carried out once it is. */
  private deferredKill: KillCause | null = null;
  private killTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(private readonly spec: ProcessSpec) {
    this.graceMs = spec.graceMs ?? DEFAULT_GRACE_MS;
    this.spawned = new Promise((resolve) => (this.resolveSpawned = resolve));
    this.result = new Promise((resolve) => (this.resolveResult = resolve));
    this.stdout = new LineSplitter((line) => spec.onLine('stdout', line), MAX_LINE_LENGTH, spec.mask ?? null);
    this.stderr = new LineSplitter((line) => spec.onLine('stderr', line), MAX_LINE_LENGTH, spec.mask ?? null);
  }

  get pid(): number | null {
    return this.pidValue;
  }

  started(pid: number): void {
    this.pidValue = pid;
    this.spec.onSpawn?.(pid);
    this.resolveSpawned(pid);
    if (this.spec.timeoutMs !== null) {
      this.timeoutTimer = setTimeout(() => {
        this.timedOut = true;
        this.terminate('timeout');
      }, this.spec.timeoutMs);
    }
    if (this.deferredKill !== null) this.terminate(this.deferredKill);
  }

  output(stream: OutputStream, chunk: Buffer): void {
    (stream === 'stdout' ? this.stdout : this.stderr).write(chunk);
  }

  mainExited(): void {
    this.exited = true;
  }

  /**
   * The spawner died under the process (`spawnerEnd` says how): its output and exit can no
   * longer be read, and its group is no longer signalled through the spawner. The group
   * is SIGKILLed from here, at once: unwatched, a grace period would only let it run on
   * (its next write dies of SIGPIPE anyway), and a retry may start elsewhere meanwhile.
   * The group id is the pid the spawner reported, so nothing else is hit: a group leader's
   * id is not reused while any process of the group lives.
   */
  lose(spawnerEnd: string): void {
    if (this.settled) return;
    const pid = this.pidValue;
    if (pid === null) {
      this.finish(null, null, `${spawnerEnd} before it reported whether the task started (if it did, it may still run)`);
      return;
    }
    let killed = true;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      killed = false; // ESRCH: the group had ended already
    }
    this.finish(null, null, `${spawnerEnd} while the task ran; its process group ${pid} ${killed ? 'was killed' : 'had already ended'}`);
  }

  /**
   * Settles the run: `exit` when it ran, `error` when it could not start, `lost` when it
   * was lost while it ran ({@link lose}). Idempotent.
   */
  finish(exit: ProcessExit | null, error: string | null, lost: string | null = null): void {
    if (this.settled) return;
    this.settled = true;
    this.exited = true;
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.killTimer);
    this.stdout.end();
    this.stderr.end();
    active.delete(this);
    this.resolveSpawned(this.pidValue);
    this.resolveResult({
      exitCode: exit?.code ?? null, signal: exit?.signal ?? null, timedOut: this.timedOut, cancelled: this.cancelled, error, lost,
    });
  }

  pauseOutput(paused: boolean): void {
    if (this.settled || paused === this.outputPaused) return;
    this.outputPaused = paused;
    this.pauseReading(paused);
  }

  cancel(reason = 'cancel'): void {
    if (this.exited) return;
    this.cancelled = true;
    this.terminate(reason);
  }

  private terminate(cause: KillCause): void {
    if (this.exited || this.killTimer !== undefined) return;
    if (this.pidValue === null) {
      this.deferredKill ??= cause;
      return;
    }
    this.spec.onKill?.('SIGTERM', cause);
    this.signalGroup('SIGTERM');
    this.killTimer = setTimeout(() => {
      this.spec.onKill?.('SIGKILL', cause);
      this.signalGroup('SIGKILL');
    }, this.graceMs);
  }
}

/**
 * Cancels every process started by `runProcess` that is still running (SIGTERM, then
 * SIGKILL after each run's grace period) and resolves when all have ended.
 */
export async function killAll(reason = 'shutdown'): Promise<ProcessResult[]> {
  const runs = [...active];
  for (const run of runs) run.cancel(reason);
  return Promise.all(runs.map((run) => run.result));
}

/** Number of processes started by `runProcess` still running (for health and tests). */
export function activeProcessCount(): number {
  return active.size;
}

/**
 * A copy of `env` (default: the worker's environment) without the worker's own
 * `SWARMFLOW_*` settings: those carry broker credentials, which a task must not see.
 * Tasks get their own `SWARMFLOW_*` from the caller. Every read of `process.env` asks the
 * OS environment (~35 µs for 40 variables), so a worker takes this once, at its start,
 * and passes it as {@link ProcessSpec.baseEnv}.
 */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Readonly<Record<string, string>> {
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('SWARMFLOW_')) inherited[name] = value;
  }
  // Not frozen: spreading a frozen object into the spawn env costs 3–4× more.
  return inherited;
}

function checkDirectory(path: string): string | null {
  try {
    return statSync(path).isDirectory() ? null : `working directory ${path} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `working directory ${path} does not exist` : `working directory ${path}: ${errorMessage(err)}`;
  }
}

function notStarted(): ProcessResult {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error: null, lost: null };
}

function settledRun(result: ProcessResult): ProcessRun {
  return { pid: null, spawned: Promise.resolve(null), result: Promise.resolve(result), cancel: () => undefined, pauseOutput: () => undefined };
}

function errorMessage(err: unknown): string {
  // Not `instanceof Error`: errors of Node's own modules fail that test under jest's sandbox.
  return typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : String(err);
}
