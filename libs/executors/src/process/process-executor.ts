import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { LineSplitter } from './line-splitter';

export type OutputStream = 'stdout' | 'stderr';

/** Why the executor signalled the process group: `'timeout'`, or the reason given to `cancel()`. */
export type KillCause = string;

export interface ProcessSpec {
  /** A string runs through `/bin/sh -c`; an array is exec'd directly (argv[0] looked up in PATH). */
  command: string | string[];
  /** Added to `baseEnv`; the caller passes the task's `SWARMFLOW_*` variables here. */
  env: Record<string, string>;
  /**
   * What the process inherits before `env` is added. Default: {@link inheritedEnv}, read
   * at every call; a worker passes one snapshot taken at its start instead.
   */
  baseEnv?: Readonly<Record<string, string>>;
  /** Working directory; null = the worker's. */
  cwd: string | null;
  /** Wall-clock limit; null = none. */
  timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL of the process group. Default 10000. */
  graceMs?: number;
  /** Called for every complete line, and for the last partial line at exit. Must not throw. */
  onLine: (stream: OutputStream, line: string) => void;
  /** Called when the executor signals the process group (for the task's log). */
  onKill?: (signal: 'SIGTERM' | 'SIGKILL', cause: KillCause) => void;
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
}

export interface ProcessRun {
  /** Pid of the process, which is also its process group id; null when spawning failed. */
  pid: number | null;
  /** Settles when the process and its output are done; never rejects. */
  result: Promise<ProcessResult>;
  /** SIGTERM to the process group, SIGKILL after the grace period. Idempotent; a no-op once ended. */
  cancel(reason?: string): void;
}

export const DEFAULT_GRACE_MS = 10_000;

/** After the main process exits, how long its output pipes may stay open (held by a process that left the group). */
const PIPE_DRAIN_MS = 2_000;

const active = new Set<ProcessRun>();

/**
 * Runs a command in its own process group (`detached`), streaming its output line by
 * line. Timeout and cancel send SIGTERM to the whole group, then SIGKILL after
 * `graceMs`. When the main process exits, whatever it left running in its group is
 * killed: nothing of a finished task outlives it. Never throws: a spawn failure
 * resolves with `error` set.
 */
export function runProcess(spec: ProcessSpec): ProcessRun {
  const graceMs = spec.graceMs ?? DEFAULT_GRACE_MS;
  const cwdError = spec.cwd === null ? null : checkDirectory(spec.cwd);
  if (cwdError !== null) return settledRun({ ...notStarted(), error: cwdError });

  const [file, args] = typeof spec.command === 'string' ? ['/bin/sh', ['-c', spec.command]] : [spec.command[0], spec.command.slice(1)];
  if (file === undefined || file === '') return settledRun({ ...notStarted(), error: 'empty command' });

  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: spec.cwd ?? undefined,
      env: { ...(spec.baseEnv ?? inheritedEnv()), ...spec.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return settledRun({ ...notStarted(), error: `cannot start ${JSON.stringify(file)}: ${errorMessage(err)}` });
  }

  const pid = child.pid ?? null;
  let timedOut = false;
  let cancelled = false;
  let exited = false;
  let killTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (pid === null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  const terminate = (cause: KillCause): void => {
    if (exited || killTimer !== undefined || pid === null) return;
    spec.onKill?.('SIGTERM', cause);
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => {
      spec.onKill?.('SIGKILL', cause);
      signalGroup('SIGKILL');
    }, graceMs);
  };

  const run: ProcessRun = {
    pid,
    result: new Promise<ProcessResult>((resolve) => {
      const stdout = new LineSplitter((line) => spec.onLine('stdout', line));
      const stderr = new LineSplitter((line) => spec.onLine('stderr', line));
      child.stdout?.on('data', (chunk: Buffer) => stdout.write(chunk));
      child.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));

      let exit: { code: number | null; signal: string | null } | null = null;
      let drainTimer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (error: string | null): void => {
        if (settled) return;
        settled = true;
        exited = true;
        clearTimeout(timeoutTimer);
        clearTimeout(killTimer);
        clearTimeout(drainTimer);
        stdout.end();
        stderr.end();
        active.delete(run);
        resolve({ exitCode: exit?.code ?? null, signal: exit?.signal ?? null, timedOut, cancelled, error });
      };

      child.once('error', (err) => {
        // Spawn failure (no such binary, permission denied…): no 'exit' follows.
        if (exit === null) finish(`cannot start ${JSON.stringify(file)}: ${errorMessage(err)}`);
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        exited = true;
        // Leftovers of the task in its group (`cmd &` without wait) are killed with it.
        signalGroup('SIGKILL');
        drainTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(null);
        }, PIPE_DRAIN_MS);
      });
      child.once('close', () => {
        if (exit !== null) finish(null);
      });
    }),
    cancel: (reason = 'cancel') => {
      if (exited) return;
      cancelled = true;
      terminate(reason);
    },
  };

  if (pid !== null) {
    active.add(run);
    if (spec.timeoutMs !== null) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        terminate('timeout');
      }, spec.timeoutMs);
    }
  }
  return run;
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
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error: null };
}

function settledRun(result: ProcessResult): ProcessRun {
  return { pid: null, result: Promise.resolve(result), cancel: () => undefined };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
