import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { dagHash, type SerializedDag } from '@swarmflow/core';
import type { DagRepository } from '@swarmflow/persistence';
import type { ChildReply, ChildRequest } from './dag-file.child';
import { storableText, unstorableField } from './storable';

export interface DagProcessorOptions {
  folder: string;
  /** Time one file may take to import before it is reported as an import error. */
  fileTimeoutMs: number;
  /** Memory one import may use, in MiB: the child's V8 heap limit and its resident size (default 1024). */
  fileMemoryMb?: number;
}

export interface ParseResult {
  dags: { dag: SerializedDag; hash: string }[];
  errors: { fileloc: string; message: string }[];
}

/** One DAG file's last import: its DAGs or its error, and the folder's files it loaded (null: not known). */
interface Imported {
  stamp: string;
  dags: SerializedDag[] | null;
  error: string | null;
  deps: string[] | null;
}

const DAG_FILE = /\.(ts|js|cjs|ya?ml)$/;
/** Files a DAG file may import or read: code, JSON and YAML, in helper folders (`_shared/`) too. */
const SOURCE_FILE = /\.(ts|tsx|mts|cts|js|mjs|cjs|json|ya?ml)$/;
export const DEFAULT_FILE_MEMORY_MB = 1024;
/** How often the child's resident size is read (Linux /proc) against the memory limit. */
const MEMORY_CHECK_MS = 250;

/** Every source file under `folder` (dot-prefixed names and node_modules skipped) → `mtime:size`. */
function sourceStamps(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while walking
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(abs);
      else if (SOURCE_FILE.test(entry.name)) {
        const s = statSync(abs, { throwIfNoEntry: false });
        if (s) out.set(path.relative(folder, abs), `${s.mtimeMs}:${s.size}`);
      }
    }
  };
  walk(folder);
  return out;
}

/** Whether `file` (relative to the folder) is a DAG file: YAML, or TS/JS mentioning `swarmflow`, outside `_`-prefixed names. */
function isDagFile(folder: string, file: string): boolean {
  const parts = file.split(path.sep);
  if (parts.some((p) => p.startsWith('_')) || !DAG_FILE.test(file) || file.endsWith('.d.ts')) return false;
  if (/\.ya?ml$/.test(file)) return true;
  try {
    return readFileSync(path.join(folder, file), 'utf8').includes('swarmflow');
  } catch {
    return false;
  }
}

/**
 * Finds DAG files: YAML files, and TypeScript/JavaScript files that mention `swarmflow`
 * (helper modules beside them are imported by DAG files, not parsed on their own).
 * Skips dot- and underscore-prefixed names and node_modules.
 */
export function findDagFiles(folder: string): string[] {
  return [...sourceStamps(folder).keys()].filter((f) => isDagFile(folder, f)).sort();
}

/**
 * What decides whether the folder must be parsed again: path, mtime and size of every
 * source file, helper modules included. Skips dot-prefixed names and node_modules.
 */
export function folderFingerprint(folder: string): string {
  return [...sourceStamps(folder)].map(([f, s]) => `${f}:${s}`).sort().join('|');
}

/** The run was stopped ({@link DagProcessor.stop}): nothing was recorded. */
export class DagProcessingStopped extends Error {
  constructor() {
    super('DAG processing stopped');
    this.name = 'DagProcessingStopped';
  }
}

/**
 * Parses the DAGs folder in child processes, a time and memory limit per file, and
 * records the result: a content-hashed version per DAG, an import error per broken file.
 * A broken file never stops the others; its DAGs keep their last good version. Only
 * files that changed are imported again, with the DAG files that loaded a changed file
 * (see docs/DESIGN.md, "DAG processing").
 */
export class DagProcessor {
  private stamps = new Map<string, string>();
  private readonly imported = new Map<string, Imported>();
  private readonly dagFiles = new Map<string, { stamp: string; isDag: boolean }>();
  private child: ChildProcess | null = null;
  private stopped = false;
  private watcher: FSWatcher | null = null;

  constructor(private readonly options: DagProcessorOptions, private readonly dags: DagRepository) {}

  private get memoryMb(): number {
    return this.options.fileMemoryMb ?? DEFAULT_FILE_MEMORY_MB;
  }

  /**
   * Parses and records when a source file (a DAG file or a module beside it) changed since
   * the last run, or with `force` (every DAG file imported again); returns null when skipped.
   * @throws DagProcessingStopped when {@link stop} is called meanwhile.
   */
  run(now: Date, force = false): Promise<ParseResult | null> {
    // One run at a time: a watch event during a run waits for it, then sees what changed since.
    const next = this.queue.then(() => this.runNow(now, force));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async runNow(now: Date, force: boolean): Promise<ParseResult | null> {
    const folder = this.options.folder;
    const stamps = sourceStamps(folder);
    const changed = new Set<string>();
    for (const [file, stamp] of stamps) if (this.stamps.get(file) !== stamp) changed.add(file);
    for (const file of this.stamps.keys()) if (!stamps.has(file)) changed.add(file);
    if (!force && changed.size === 0) return null;

    const dagFiles: string[] = [];
    for (const [file, stamp] of stamps) {
      let known = this.dagFiles.get(file);
      if (!known || known.stamp !== stamp) {
        known = { stamp, isDag: isDagFile(folder, file) };
        this.dagFiles.set(file, known);
      }
      if (known.isDag) dagFiles.push(file);
    }
    for (const file of this.dagFiles.keys()) if (!stamps.has(file)) this.dagFiles.delete(file);
    for (const file of this.imported.keys()) if (!dagFiles.includes(file)) this.imported.delete(file);
    dagFiles.sort();

    // A changed file that no DAG file is known to load may be read by any of them
    // (readFileSync of a JSON, a module whose import failed): all code DAG files go again.
    const knownDeps = new Set([...this.imported.values()].flatMap((i) => i.deps ?? []));
    const unclaimed = [...changed].some((f) => !dagFiles.includes(f) && !knownDeps.has(f));
    const toImport = dagFiles.filter((file) => {
      const last = this.imported.get(file);
      if (force || !last || last.stamp !== stamps.get(file)) return true;
      if (last.deps === null) return changed.size > 0 && !/\.ya?ml$/.test(file);
      if (last.deps.some((d) => changed.has(d))) return true;
      return unclaimed && !/\.ya?ml$/.test(file);
    });

    for (const [file, result] of await this.importFiles(toImport)) this.imported.set(file, { ...result, stamp: stamps.get(file)! });
    const owners = new Map((await this.dags.list()).map((d) => [d.dagId, d.fileloc]));
    const result = this.combine(dagFiles, owners);
    if (this.stopped) throw new DagProcessingStopped();
    const { refused } = await this.dags.recordParse(result.dags, result.errors, now);
    if (refused?.length) {
      const files = new Set(refused.map((r) => r.fileloc));
      result.dags = result.dags.filter((d) => !files.has(d.dag.fileloc));
      result.errors.push(...refused);
    }
    this.stamps = stamps;
    return result;
  }

  /**
   * Imports `files` and validates their DAGs. Two files defining one DAG id: the file that
   * defined it so far (`owners`: DAG id → file) keeps it, else the first by name; the other
   * file is an import error, so a stray copy never takes over a running DAG.
   */
  async parse(files: string[], owners: ReadonlyMap<string, string> = new Map()): Promise<ParseResult> {
    for (const [file, result] of await this.importFiles(files)) this.imported.set(file, { ...result, stamp: '' });
    return this.combine(files, owners);
  }

  /** Watches the folder and calls `onChange` (debounced by `debounceMs`) when something in it changes. */
  watch(onChange: () => void, debounceMs = 100): void {
    if (this.watcher) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      this.watcher = watch(this.options.folder, { recursive: true, persistent: false }, () => {
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      });
      this.watcher.on('error', () => this.unwatch()); // the folder went away: the interval still parses
      this.prepareSpare();
    } catch {
      this.watcher = null; // no watching here (a filesystem without it): the interval parses
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.spare) killGroup(this.spare.child);
    this.spare = null;
  }

  /** Stops watching and kills the import under way (its whole process group); a run in progress throws {@link DagProcessingStopped}. */
  stop(): void {
    this.stopped = true;
    this.unwatch();
    if (this.child) killGroup(this.child);
  }

  /** The DAGs and import errors of `files` from their last import, duplicates and unstorable values made import errors. */
  private combine(files: string[], owners: ReadonlyMap<string, string>): ParseResult {
    const result: ParseResult = { dags: [], errors: [] };
    const loaded: { file: string; dags: SerializedDag[] }[] = [];
    for (const file of files) {
      const last = this.imported.get(file);
      if (!last) continue;
      if (last.error !== null) {
        result.errors.push({ fileloc: file, message: storableText(last.error) });
        continue;
      }
      const bad = last.dags!.map((dag) => ({ dag, field: unstorableField(dag) })).find((d) => d.field);
      if (bad) {
        result.errors.push({
          fileloc: file,
          message: storableText(`${file}: DAG "${bad.dag.id}": ${bad.field!.path} holds ${bad.field!.problem}, which cannot be stored. Fix: remove it from the DAG file.`),
        });
        continue;
      }
      loaded.push({ file, dags: last.dags! });
    }
    const definers = new Map<string, string[]>();
    for (const { file, dags } of loaded) for (const dag of dags) definers.set(dag.id, [...(definers.get(dag.id) ?? []), file]);
    const keeper = (id: string): string => {
      const defined = definers.get(id)!;
      const owner = owners.get(id);
      return owner !== undefined && defined.includes(owner) ? owner : defined[0];
    };
    for (const { file, dags } of loaded) {
      const clash = dags.find((d) => keeper(d.id) !== file);
      if (clash) {
        result.errors.push({
          fileloc: file,
          message: `${file}: DAG "${clash.id}" is already defined in ${keeper(clash.id)}. Fix: give one of them another id.`,
        });
        continue;
      }
      for (const dag of dags) result.dags.push({ dag, hash: dagHash(dag) });
    }
    return result;
  }

  /** Imports `files`, a child at a time; a child that hangs or dies blames its current file and the next child takes the rest. */
  private async importFiles(files: string[]): Promise<Map<string, Omit<Imported, 'stamp'>>> {
    const out = new Map<string, Omit<Imported, 'stamp'>>();
    let remaining = files;
    while (remaining.length > 0 && !this.stopped) {
      const { replies, unfinished } = await this.parseInChild(remaining);
      for (const reply of replies) {
        if (reply.type === 'error') out.set(reply.file, { dags: null, error: reply.message, deps: reply.deps });
        if (reply.type === 'result') out.set(reply.file, { dags: reply.dags, error: null, deps: reply.deps });
      }
      remaining = unfinished;
    }
    if (this.stopped) throw new DagProcessingStopped();
    this.prepareSpare();
    return out;
  }

  /** A child with its stderr kept; killed with its group if the scheduler exits. */
  private forkChild(): { child: ChildProcess; stderr: () => string } {
    const ext = path.extname(__filename);
    const child: ChildProcess = fork(path.join(__dirname, `dag-file.child${ext}`), [], {
      execArgv: ['--require', require.resolve('tsx/cjs'), `--max-old-space-size=${this.memoryMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Its own process group: a timeout or a stop kills what the import started, too.
      detached: true,
      // From source (tests), tsx maps the @swarmflow/* aliases with the repository's tsconfig;
      // the compiled build has them rewritten already.
      env: ext === '.ts' ? { ...process.env, TSX_TSCONFIG_PATH: path.resolve(__dirname, '../../../../tsconfig.json') } : process.env,
    });
    // The scheduler exiting (process.exit, a second signal) takes the import with it.
    const onExit = () => killGroup(child);
    process.on('exit', onExit);
    child.once('exit', () => process.removeListener('exit', onExit));
    child.on('error', () => undefined); // reported by parseInChild through 'exit' / its own listener
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    return { child, stderr: () => stderr };
  }

  /** A child forked ahead of its use while watching, so a changed file starts importing at once. */
  private spare: { child: ChildProcess; stderr: () => string } | null = null;

  private takeChild(): { child: ChildProcess; stderr: () => string } {
    const spare = this.spare;
    this.spare = null;
    if (spare && spare.child.exitCode === null && spare.child.signalCode === null && spare.child.connected) return spare;
    if (spare) killGroup(spare.child);
    return this.forkChild();
  }

  private prepareSpare(): void {
    if (this.watcher && !this.spare && !this.stopped) this.spare = this.forkChild();
  }

  /** Runs one child over `files`; if a file hangs, outgrows its memory or kills the child, reports it and returns the files after it. */
  private parseInChild(files: string[]): Promise<{ replies: ChildReply[]; unfinished: string[] }> {
    const { child, stderr: stderrOf } = this.takeChild();
    this.child = child;
    const replies: ChildReply[] = [];
    let current: string | null = null;
    let finished = false;
    const limit = `${this.memoryMb} MiB`;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const memoryTimer = setInterval(() => {
        const rss = residentMb(child.pid);
        if (rss !== null && rss > this.memoryMb * 1.5) {
          settle(`the import used ${Math.round(rss)} MiB of memory, over the limit of ${limit} per import. Fix: load less at import time, or raise SWARMFLOW_DAG_FILE_MEMORY`);
        }
      }, MEMORY_CHECK_MS);
      const settle = (failure: string | null) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearInterval(memoryTimer);
        killGroup(child);
        if (this.child === child) this.child = null;
        const done = new Set(replies.filter((r) => r.type === 'result' || r.type === 'error').map((r) => (r as { file: string }).file));
        // The file being imported when the child hung or died gets the blame; if the child died
        // before its first file, every file does (otherwise the caller would retry forever).
        const blamed = failure && !this.stopped ? (current ? [current] : files) : [];
        for (const file of blamed.filter((f) => !done.has(f))) {
          replies.push({ type: 'error', file, message: `${file}: ${failure}`, deps: null });
          done.add(file);
        }
        resolve({ replies, unfinished: failure ? files.filter((f) => !done.has(f)) : [] });
      };
      child.on('message', (reply: ChildReply) => {
        replies.push(reply);
        if (reply.type === 'begin') {
          current = reply.file;
          clearTimeout(timer);
          timer = setTimeout(
            () => settle(`import timed out after ${this.options.fileTimeoutMs / 1000}s (a loop or a blocking call at import time?); its processes were killed. Fix: make the import quick, or raise SWARMFLOW_DAG_FILE_TIMEOUT`),
            this.options.fileTimeoutMs,
          );
        } else if (reply.type === 'done') settle(null);
      });
      child.on('error', (err) => settle(`the DAG processor could not run: ${err.message}`));
      child.on('exit', (code, signal) => {
        const stderr = stderrOf();
        if (/heap limit|heap out of memory/i.test(stderr)) {
          settle(`the import ran out of memory: it passed the limit of ${limit} per import. Fix: load less at import time, or raise SWARMFLOW_DAG_FILE_MEMORY`);
          return;
        }
        const tail = stderr.trim().split('\n').slice(-5).join('\n  ');
        settle(`the DAG processor exited while importing this file (code ${code ?? signal})${tail ? `:\n  ${tail}` : ''}`);
      });
      child.send({ folder: path.resolve(this.options.folder), files } satisfies ChildRequest);
    });
  }
}

/** SIGKILLs the child's process group (it leads one: forked detached), and the child itself. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** The resident size of `pid` in MiB (Linux), or null when it cannot be read. */
function residentMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return (pages * 4096) / 1024 / 1024;
  } catch {
    return null;
  }
}
