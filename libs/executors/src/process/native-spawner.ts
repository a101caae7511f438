import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/**
 * Client of `sf-spawner` (libs/executors/native/spawner.c), a small C process that starts
 * task processes with posix_spawn for the worker: no fork of the worker's large address
 * space, and no synchronous spawn on its event loop. One spawner serves many tasks at once.
 *
 * Frames, both ways: u32 length (little-endian; the bytes after it), u8 type, payload.
 * Integers are little-endian; strings end with NUL.
 * - worker → spawner: `R` RUN u32 id, u32 argc, u32 envc, cwd, argv…, env… ("NAME=value");
 *   `B` BASE u32 envc, env… (the base environment of later `r` requests); `r` RUN ON BASE,
 *   as `R` with env added to the base; `K` KILL u32 id, u32 signal (to the task's process group);
 *   `P` PAUSE u32 id, u32 paused (1: stop reading the task's output pipe, 0: read it again).
 * - spawner → worker: `S` SPAWNED u32 id, u32 pid; `E` ERROR u32 id, u32 errno, message;
 *   `O` OUT u32 id, u8 stream (1 stdout, 2 stderr: the spawner gives a task one pipe for both,
 *   so always 1), bytes; `X` EXIT u32 id, i32 code (-1:
 *   a signal ended it), u32 signal (0: none). A task's OUT frames all precede its EXIT.
 * The C file's header has the full contract.
 */

/** What a task needs to start: argv[0] is looked up in its environment's PATH when it holds no `/`. */
export interface SpawnRequest {
  argv: readonly string[];
  /** The task's environment; with `baseEnv`, what it adds to (or replaces in) that. */
  env: Readonly<Record<string, string>>;
  /**
   * An environment many tasks share (the worker's). It crosses to the spawner once, and
   * again only when another object is passed: pass the same object to save the copying,
   * and do not change it afterwards.
   */
  baseEnv?: Readonly<Record<string, string>>;
  /** null = the spawner's working directory. */
  cwd: string | null;
}

/** Receives one task's events, in this order: `spawned`, `output`…, then `exited`; or `failed` at any point. */
export interface SpawnListener {
  spawned(pid: number): void;
  output(stream: 'stdout' | 'stderr', bytes: Buffer): void;
  /** The main process ended and its output is read (or its drain period passed). */
  exited(code: number | null, signal: NodeJS.Signals | null): void;
  /**
   * It did not start (`notStarted` true: the spawner's exec failed, `cannot start …`, or
   * the request was never sent, the spawner being gone), or the spawner died under it
   * (`notStarted` false: it may have started, and then runs on unwatched). Last call.
   */
  failed(error: string, notStarted: boolean): void;
}

const RUN = 0x52; // 'R'
const RUN_ON_BASE = 0x72; // 'r'
const BASE = 0x42; // 'B'
const KILL = 0x4b; // 'K'
const PAUSE = 0x50; // 'P'
const SPAWNED = 0x53; // 'S'
const ERROR = 0x45; // 'E'
const OUT = 0x4f; // 'O'
const EXIT = 0x58; // 'X'

const EMPTY = Buffer.alloc(0);
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

interface Task {
  file: string;
  listener: SpawnListener;
}

/**
 * One running `sf-spawner` process and the tasks it serves. Its handles are unref'd while
 * no task is in flight, so an idle spawner never keeps the worker alive; when the worker
 * exits, the spawner reads EOF and stops what still runs.
 */
export class NativeSpawner {
  private readonly child: ChildProcess;
  private readonly tasks = new Map<number, Task>();
  private nextId = 1;
  private pending: Buffer = EMPTY;
  private deadReason: string | null = null;
  /** The base environment the spawner holds (`B`), as the object it was sent from. */
  private sentBase: Readonly<Record<string, string>> | null = null;
  private closing = false;
  private readonly closed: Promise<void>;

  constructor(readonly binary: string) {
    // Throws only for invalid arguments; a missing binary is an 'error' event.
    // Without the worker's SWARMFLOW_* settings (the cluster key, broker and database URLs): its environment is readable
    // in /proc by the tasks, which run as the same user. Tasks get theirs from the frames.
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'], env: withoutSwarmflowSettings(process.env) });
    this.child.stdin!.on('error', () => undefined); // EPIPE once it died: reported by 'close'
    this.child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
    this.closed = new Promise((resolve) => {
      this.child.once('error', (err) => {
        // It never ran (ENOENT, EACCES…): neither did any task asked of it.
        this.die(`process spawner ${binary} could not start: ${err.message}`, true);
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.die(`process spawner sf-spawner exited with ${signal !== null ? `signal ${signal}` : `code ${code}`}`, false);
        resolve();
      });
    });
    this.setRef(false);
  }

  /** Whether it still takes tasks: it has not died and {@link close} was not called. */
  get alive(): boolean {
    return this.deadReason === null && !this.closing;
  }

  /** Pid of the spawner process (for tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Number of tasks started and not yet ended. */
  get inFlight(): number {
    return this.tasks.size;
  }

  /** Asks for a task; returns its id, for {@link kill}. Events go to `listener`, never synchronously. */
  run(request: SpawnRequest, listener: SpawnListener): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    const file = request.argv[0] ?? '';
    if (!this.alive) {
      const reason = this.deadReason ?? 'process spawner is shutting down';
      queueMicrotask(() => listener.failed(reason, true));
      return id;
    }
    const base = request.baseEnv;
    const baseEntries = base !== undefined && base !== this.sentBase ? envEntries(base) : null;
    const env = envEntries(request.env);
    const strings = [request.cwd ?? '', ...request.argv, ...env];
    if ([...strings, ...(baseEntries ?? [])].some((s) => s.includes('\0'))) {
      queueMicrotask(() => listener.failed(`cannot start ${JSON.stringify(file)}: an argument or variable holds a NUL byte`, true));
      return id;
    }
    if (baseEntries !== null) {
      this.child.stdin!.write(frameOf(BASE, [baseEntries.length], baseEntries));
      this.sentBase = base!;
    }
    const frame = frameOf(base !== undefined ? RUN_ON_BASE : RUN, [id, request.argv.length, env.length], strings);
    if (this.tasks.size === 0) this.setRef(true);
    this.tasks.set(id, { file, listener });
    this.child.stdin!.write(frame);
    return id;
  }

  /** Signals the task's process group; a no-op once its main process has exited. */
  kill(id: number, signal: NodeJS.Signals): void {
    if (this.deadReason !== null || !this.tasks.has(id)) return;
    const frame = Buffer.allocUnsafe(13);
    frame.writeUInt32LE(9, 0);
    frame[4] = KILL;
    frame.writeUInt32LE(id, 5);
    frame.writeUInt32LE(constants.signals[signal], 9);
    this.child.stdin!.write(frame);
  }

  /**
   * Stops (`paused` true) or resumes reading the task's output: while paused, its pipe
   * fills and the task blocks in write(). Output already read still arrives. A no-op once
   * the task has ended.
   */
  pause(id: number, paused: boolean): void {
    if (this.deadReason !== null || !this.tasks.has(id)) return;
    const frame = Buffer.allocUnsafe(13);
    frame.writeUInt32LE(9, 0);
    frame[4] = PAUSE;
    frame.writeUInt32LE(id, 5);
    frame.writeUInt32LE(paused ? 1 : 0, 9);
    this.child.stdin!.write(frame);
  }

  /**
   * Closes its stdin: the spawner SIGTERMs the tasks still running (SIGKILL after 5 s),
   * reports their ends and exits. Resolves when it has exited.
   */
  close(): Promise<void> {
    this.closing = true;
    this.child.stdin!.end();
    this.setRef(true); // until it has exited
    return this.closed;
  }

  private read(chunk: Buffer): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32LE(offset);
      if (buf.length - offset - 4 < length) break;
      this.onFrame(buf, offset + 4, offset + 4 + length);
      offset += 4 + length;
    }
    if (offset === buf.length) buf = EMPTY;
    else if (offset > 0) buf = Buffer.from(buf.subarray(offset)); // do not hold the whole chunk
    this.pending = buf;
  }

  private onFrame(buf: Buffer, start: number, end: number): void {
    const type = buf[start];
    const id = buf.readUInt32LE(start + 1);
    const task = this.tasks.get(id);
    if (task === undefined) return;
    switch (type) {
      case SPAWNED:
        task.listener.spawned(buf.readUInt32LE(start + 5));
        return;
      case OUT:
        task.listener.output(buf[start + 5] === 2 ? 'stderr' : 'stdout', buf.subarray(start + 6, end));
        return;
      case ERROR: {
        this.forget(id);
        const errno = buf.readUInt32LE(start + 5);
        // Node's wording (`spawn <file> ENOENT`), so both spawners give one text.
        task.listener.failed(`cannot start ${JSON.stringify(task.file)}: spawn ${task.file} ${ERRNO_NAMES.get(errno) ?? `errno ${errno}`}`, true);
        return;
      }
      case EXIT: {
        this.forget(id);
        const code = buf.readInt32LE(start + 5);
        const signal = buf.readUInt32LE(start + 9);
        task.listener.exited(code >= 0 ? code : null, signal !== 0 ? SIGNAL_NAMES.get(signal) ?? null : null);
        return;
      }
      default:
        this.die(`process spawner sent an unknown frame type ${type}`, false);
        this.child.kill('SIGKILL');
    }
  }

  private forget(id: number): void {
    this.tasks.delete(id);
    if (this.tasks.size === 0 && this.deadReason === null) this.setRef(false);
  }

  /** @param neverRan the spawner never started, so none of its tasks did */
  private die(reason: string, neverRan: boolean): void {
    this.deadReason ??= reason;
    const tasks = [...this.tasks.values()];
    this.tasks.clear();
    this.setRef(false);
    for (const task of tasks) task.listener.failed(this.deadReason, neverRan);
  }

  private setRef(ref: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout] as const;
    for (const handle of handles) {
      const h = handle as { ref?: () => void; unref?: () => void } | null;
      if (ref) h?.ref?.();
      else h?.unref?.();
    }
  }
}

function envEntries(env: Readonly<Record<string, string>>): string[] {
  const entries: string[] = [];
  for (const name in env) entries.push(`${name}=${env[name]}`);
  return entries;
}

/** A request frame: length, type, the u32 fields, then the strings, each NUL-terminated. */
function frameOf(type: number, fields: number[], strings: string[]): Buffer {
  const text = Buffer.from(`${strings.join('\0')}\0`);
  const head = 5 + 4 * fields.length;
  const frame = Buffer.allocUnsafe(head + text.length);
  frame.writeUInt32LE(head - 4 + text.length, 0);
  frame[4] = type;
  fields.forEach((value, i) => frame.writeUInt32LE(value, 5 + 4 * i));
  text.copy(frame, head);
  return frame;
}

let shared: NativeSpawner | null = null;
let binaryPath: string | null | undefined;

/**
 * Where `npm run build` puts `sf-spawner` (`dist/native/sf-spawner`), seen from the source
 * (`libs/executors/src/process`) or the compiled code (`dist/libs/executors/src/process`);
 * null when it is not built (no C compiler). Looked up once.
 */
export function nativeSpawnerPath(): string | null {
  if (binaryPath === undefined) {
    const candidates = [join(__dirname, '../../../../dist/native/sf-spawner'), join(__dirname, '../../../../native/sf-spawner')];
    binaryPath = candidates.find((path) => existsSync(path)) ?? null;
  }
  return binaryPath;
}

/** The running spawner, started on first use and again after it died. */
export function sharedSpawner(binary: string): NativeSpawner {
  if (shared === null || !shared.alive) shared = new NativeSpawner(binary);
  return shared;
}

/**
 * Stops the shared spawner, if one runs: the tasks it still runs are SIGTERMed (SIGKILL
 * after 5 s) and end with that signal. Call it after `killAll` to leave no process
 * behind (tests; a worker's exit does the same, as the spawner then reads EOF). The next
 * task starts a new one.
 */
export async function shutdownSpawner(): Promise<void> {
  const spawner = shared;
  shared = null;
  if (spawner !== null) await spawner.close();
}

function withoutSwarmflowSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('SWARMFLOW_')));
}
