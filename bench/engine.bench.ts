/**
 * Engine benchmark: one scheduler in this process, workers as separate processes, over
 * the real PostgreSQL (a fresh database per run) and the real RabbitMQ (a random prefix).
 *
 *   (a) throughput — one layer of BENCH_WIDE independent `true` tasks;
 *   (b) per-hop overhead — a chain of BENCH_CHAIN `true` tasks:
 *       (wall − Σ(ended_at − started_at)) / BENCH_CHAIN.
 *
 * Run: `npx tsx bench/engine.bench.ts` (see bench/README.md for the options).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as inspector from 'node:inspector/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as amqp from 'amqplib';
import Table from 'cli-table3';
import { AmqpBroker, EVENTS_QUEUE, LOGS_QUEUE, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, rabbitmqUrl, redactedRabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import type { DagRun, TaskInstance } from '@swarmflow/persistence';
import { createTestDatabase, postgresAdminUrl, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { quietLogger, Stack } from '../apps/scheduler/src/test-support/stack';
import { installProfiler, type Profiler } from './profile';

const ROOT = path.join(__dirname, '..');

/** Peer and goal figures (/work/shared/FACTS.md); same work: `true` tasks, 4 slots. */
const GOAL_TASKS_PER_S = 1000;
const GOAL_MS_PER_HOP = 5;
const CELERY_NO_BACKEND_TASKS_PER_S = 1317;
const CELERY_PG_BACKEND_TASKS_PER_S = 600;
const CELERY_CHAIN_MS_PER_HOP = 2.03;
const CELERY_CHAIN_WITH_STATE_MS_PER_HOP = 2.57;

/** How often the run state is polled. */
const POLL_MS = 20;

/** Options from the environment, validated once. */
interface BenchOptions {
  wide: number;
  chain: number;
  /** Tasks of the unreported warm-up run (BENCH_WARMUP, at least 2 × slots). */
  warmup: number;
  workers: number;
  concurrency: number;
  /** Scheduler tick (the Stack's default, 200 ms, unless BENCH_TICK_MS). */
  tickMs: number;
  /** The scheduler's eventCoalesceMs (its default unless BENCH_COALESCE_MS). */
  coalesceMs: number | undefined;
  timeoutMs: number;
  /** Instrument the scheduler (bench/profile.ts) and run bench/worker-probe.ts as the worker. */
  profile: boolean;
  /** Which benchmarks to run. */
  only: ('wide' | 'chain')[];
  /** `dist` (compiled, when present) or `ts` (through tsx). */
  workerEntry: 'auto' | 'ts';
  /** The scheduler's artefacts store (BENCH_ARTIFACTS_URL, as SWARMFLOW_ARTIFACTS_URL; standalone sets a file:// one): every task message then carries its artefacts location. */
  artifactsUrl: string | null;
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) {
    throw new Error(`${name} must be a whole number >= ${min} (got "${raw}"). Fix: e.g. ${name}=${fallback}`);
  }
  return Number(raw);
}

function readOptions(): BenchOptions {
  return {
    wide: intEnv('BENCH_WIDE', 2000, 1),
    chain: intEnv('BENCH_CHAIN', 200, 1),
    warmup: intEnv('BENCH_WARMUP', 10_000, 0),
    workers: intEnv('BENCH_WORKERS', 2, 1),
    concurrency: intEnv('BENCH_CONCURRENCY', 4, 1),
    tickMs: intEnv('BENCH_TICK_MS', 200, 10),
    coalesceMs: process.env.BENCH_COALESCE_MS === undefined ? undefined : intEnv('BENCH_COALESCE_MS', 5, 0),
    timeoutMs: intEnv('BENCH_TIMEOUT_S', 600, 1) * 1000,
    profile: process.env.BENCH_PROFILE === '1',
    only: onlyEnv(),
    workerEntry: process.env.BENCH_WORKER_ENTRY === 'ts' ? 'ts' : 'auto',
    artifactsUrl: process.env.BENCH_ARTIFACTS_URL?.trim() || null,
  };
}

function onlyEnv(): ('wide' | 'chain')[] {
  const raw = (process.env.BENCH_ONLY ?? 'wide,chain').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = raw.find((s) => s !== 'wide' && s !== 'chain');
  if (bad !== undefined || raw.length === 0) throw new Error(`BENCH_ONLY lists wide and/or chain (got "${process.env.BENCH_ONLY}"). Fix: e.g. BENCH_ONLY=chain`);
  return raw as ('wide' | 'chain')[];
}

// --- DAG files ---------------------------------------------------------------------

const pad = (i: number, n: number) => String(i).padStart(String(n - 1).length, '0');

/** One layer of `n` independent tasks; max_active_tasks raised so the DAG limit is not the bottleneck. */
function wideDag(id: string, n: number): string {
  const lines = [`id: ${id}`, `max_active_tasks: ${n}`, 'tasks:'];
  for (let i = 0; i < n; i++) lines.push(`  t${pad(i, n)}: { shell: "true" }`);
  return `${lines.join('\n')}\n`;
}

/** t0 → t1 → … → t(n-1). */
function chainDag(id: string, n: number): string {
  const lines = [`id: ${id}`, 'tasks:'];
  for (let i = 0; i < n; i++) {
    lines.push(i === 0 ? `  t${pad(i, n)}: { shell: "true" }` : `  t${pad(i, n)}: { shell: "true", upstream: [t${pad(i - 1, n)}] }`);
  }
  return `${lines.join('\n')}\n`;
}

// --- worker processes --------------------------------------------------------------

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** The compiled worker when `npm run build` produced it, else the TypeScript entry through tsx. */
function workerCommand(opts: BenchOptions): { args: string[]; label: string } {
  if (opts.profile) return { args: ['--require', 'tsx/cjs', 'bench/worker-probe.ts'], label: 'node --require tsx/cjs bench/worker-probe.ts (instrumented copy of main.ts)' };
  const compiled = path.join(ROOT, 'dist/apps/worker/src/main.js');
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (opts.workerEntry === 'auto' && existsSync(compiled)) return { args: [...extra, compiled], label: `node ${[...extra, 'dist/apps/worker/src/main.js'].join(' ')}` };
  return { args: ['--require', 'tsx/cjs', 'apps/worker/src/main.ts'], label: 'node --require tsx/cjs apps/worker/src/main.ts' };
}

function spawnWorker(name: string, prefix: string, concurrency: number, args: string[], clusterKey: string): WorkerProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env, NO_COLOR: '1',
      SWARMFLOW_AMQP_URL: rabbitmqUrl(), SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_WORKER_QUEUES: 'default',
      SWARMFLOW_WORKER_CONCURRENCY: String(concurrency), SWARMFLOW_WORKER_NAME: name, SWARMFLOW_CLUSTER_KEY: clusterKey,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, output: () => output, exited };
}

/** Waits until `count` consumers serve the task queue; fails early when a worker exits. */
async function waitForWorkers(broker: AmqpBroker, workers: WorkerProcess[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const died = workers.map((w) => w.exited.then((code) => ({ w, code })));
  let dead: { w: WorkerProcess; code: number | null } | undefined;
  void Promise.race(died).then((d) => (dead = d));
  for (;;) {
    if (dead) throw new Error(`worker ${dead.w.name} exited with code ${dead.code} during start:\n${dead.w.output()}`);
    const stats = await broker.queueStats(taskQueue('default').name).catch(() => ({ consumers: 0, messages: 0 }));
    if (stats.consumers >= workers.length) return;
    if (Date.now() > deadline) {
      throw new Error(`only ${stats.consumers} of ${workers.length} workers consume after ${timeoutMs / 1000}s:\n` +
        workers.map((w) => `--- ${w.name}\n${w.output()}`).join('\n'));
    }
    await sleep(100);
  }
}

async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map(async (w) => {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return;
    w.child.kill('SIGTERM'); // drains: nothing runs after a finished benchmark
    const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
    await w.exited;
    clearTimeout(timer);
  }));
}

// --- measuring ---------------------------------------------------------------------

interface RunResult {
  name: string;
  tasks: number;
  wallS: number;
  /** Trigger → first task queued: the run waits for a scheduler tick to start. */
  startDelayMs: number;
  /** Σ(ended_at − started_at): the tasks' own run time. */
  taskRunMs: number;
  latencies: number[];
  /** Chain only: mean ms of each part of a hop, from the task instances' timestamps. */
  hop?: { finishedToQueued: number; queuedToStarted: number; startedToEnded: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Triggers a run, polls its state every 20 ms until it ends, and measures it. */
async function measure(stack: Stack, name: string, dagId: string, timeoutMs: number, profiler: Profiler | null, cpu?: () => Record<string, number>): Promise<RunResult> {
  profiler?.reset();
  const decided = stack.scheduler.runner.decisions;
  const heldBefore = stack.scheduler.runner.held;
  const cpuBefore = cpu?.();
  const stopProfile = await startCpuProfile(name);
  const t0 = performance.now();
  const triggeredAt = Date.now();
  const run: DagRun = await stack.trigger(dagId);
  const deadline = Date.now() + timeoutMs;
  let state = run.state as string;
  const idleSamples: { at: number; idle: number }[] = [];
  const sampleIdle = process.env.BENCH_TIMELINE === '1' ? () => idleSamples.push({ at: Date.now() - triggeredAt, idle: machineIdleS() }) : () => undefined;
  sampleIdle();
  while (state !== 'success' && state !== 'failed') {
    if (Date.now() > deadline) throw new Error(`${name}: run ${run.runId} still ${state} after ${timeoutMs / 1000}s; raise BENCH_TIMEOUT_S`);
    await sleep(POLL_MS);
    sampleIdle();
    state = (await stack.repos.runs.get(run.dagId, run.runId))?.state ?? 'missing';
  }
  const wallMs = performance.now() - t0;
  await stopProfile();
  const after = stack.scheduler.runner.decisions;
  console.log(`[${name}] scheduler iterations: ${after.fromMemory - decided.fromMemory} decided from memory (one round trip), ` +
    `${after.fromDatabase - decided.fromDatabase} read the database; ${stack.scheduler.runner.held - heldBefore} first waited for more events`);
  profiler?.report(name, wallMs);
  const cpuAfter = cpu?.();
  const tis = await stack.repos.tis.forRuns([run.pk]);
  if (cpuBefore && cpuAfter) printCpu(name, cpuBefore, cpuAfter, wallMs / 1000, tis.length);
  if (process.env.BENCH_TIMELINE === '1') {
    const bucket = (d: Date | null) => (d ? Math.floor((d.getTime() - triggeredAt) / 250) : -1);
    const count = (f: (t: TaskInstance) => Date | null) => {
      const c: number[] = [];
      for (const t of tis) { const b = bucket(f(t)); if (b >= 0) c[b] = (c[b] ?? 0) + 1; }
      return Array.from(c, (x) => x ?? 0).join(' ');
    };
    console.log(`[${name}] per 250 ms: queued ${count((t) => t.queuedAt)}\n  started ${count((t) => t.startedAt)}\n  ended ${count((t) => t.endedAt)}` +
      `\n  machine idle % ${idlePerBucket(idleSamples, 250).join(' ')}`);
  }
  if (state !== 'success') throw new RunFailedError(name, run, tis);
  const ms = (a: Date | null, b: Date | null) => (a && b ? b.getTime() - a.getTime() : NaN);
  const firstQueued = Math.min(...tis.map((t) => t.queuedAt?.getTime() ?? Infinity));
  return {
    name,
    tasks: tis.length,
    wallS: wallMs / 1000,
    startDelayMs: firstQueued - triggeredAt,
    taskRunMs: tis.reduce((sum, t) => sum + ms(t.startedAt, t.endedAt), 0),
    latencies: tis.map((t) => ms(t.queuedAt, t.startedAt)).sort((a, b) => a - b),
    hop: name === 'chain' ? hopBreakdown(tis) : undefined,
  };
}

/**
 * With BENCH_SCHEDULER_CPU_PROFILE=<dir>: a V8 CPU profile of this process (the scheduler)
 * over one measured run, written to <dir>/scheduler-<name>.cpuprofile (open it in Chrome's
 * DevTools). Returns the function that stops and writes it.
 */
async function startCpuProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_SCHEDULER_CPU_PROFILE;
  if (!dir) return async () => undefined;
  const session = new inspector.Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `scheduler-${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`[${name}] scheduler CPU profile: ${file}`);
  };
}

/** Tasks in chain order (ids sort as t000, t001, …): where the time between two tasks goes. */
function hopBreakdown(tis: TaskInstance[]): RunResult['hop'] {
  const chain = [...tis].sort((a, b) => a.taskId.localeCompare(b.taskId));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const t = (d: Date | null) => d?.getTime() ?? NaN;
  return {
    finishedToQueued: mean(chain.slice(1).map((ti, i) => t(ti.queuedAt) - t(chain[i].endedAt))),
    queuedToStarted: mean(chain.map((ti) => t(ti.startedAt) - t(ti.queuedAt))),
    startedToEnded: mean(chain.map((ti) => t(ti.endedAt) - t(ti.startedAt))),
  };
}

class RunFailedError extends Error {
  constructor(readonly bench: string, readonly run: DagRun, readonly tis: TaskInstance[]) {
    const bad = tis.filter((t) => t.state !== 'success');
    const shown = bad.slice(0, 20).map((t) => `  ${t.taskId}: ${t.state}${t.exitCode !== null ? ` exit ${t.exitCode}` : ''}${t.reason ? ` (${t.reason})` : ''}`);
    super(`${bench}: run ${run.runId} failed; ${bad.length} of ${tis.length} task(s) did not succeed:\n${shown.join('\n')}` +
      (bad.length > shown.length ? `\n  … and ${bad.length - shown.length} more` : ''));
    this.name = 'RunFailedError';
  }
}

// --- CPU per component (Linux /proc; read before and after each run) -------------------------------------

const CLK_TCK = 100;
const CORES = availableParallelism();

/**
 * CPU seconds so far: this process, the workers, their sf-spawner helpers with the task
 * processes they reaped (or, with Node's spawn, the tasks the workers reaped), PostgreSQL, RabbitMQ.
 */
function cpuSnapshot(workerPids: number[], database: string): Record<string, number> {
  const out: Record<string, number> = {
    'scheduler (bench process)': 0, workers: 0, 'sf-spawner': 0, 'task processes': 0, postgres: 0, rabbitmq: 0,
  };
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  out['machine busy'] = (user + nice + system + irq + softirq) / CLK_TCK;
  out['machine idle'] = idle / CLK_TCK;
  out['machine iowait'] = iowait / CLK_TCK;
  out['machine steal'] = steal / CLK_TCK;
  const u = process.cpuUsage();
  out['scheduler (bench process)'] = (u.user + u.system) / 1e6;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    let cmd: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
    const ppid = Number(f[1]);
    if (workerPids.includes(ppid) && cmd.includes('sf-spawner')) {
      out['sf-spawner'] += (utime + stime) / CLK_TCK;
      out['task processes'] += (cutime + cstime) / CLK_TCK;
    } else if (workerPids.includes(Number(pid))) {
      out.workers += (utime + stime) / CLK_TCK;
      out['task processes'] += (cutime + cstime) / CLK_TCK;
    } else if (cmd.startsWith('postgres:') && (cmd.includes(database) || !/ \d+\.\d+\.\d+\.\d+\(/.test(cmd))) {
      out.postgres += (utime + stime) / CLK_TCK; // this database's backends and the server's own processes
    } else if (cmd.includes('beam.smp')) {
      out.rabbitmq += (utime + stime) / CLK_TCK;
    }
  }
  return out;
}

/** Idle seconds of all cores so far (/proc/stat). */
function machineIdleS(): number {
  const idle = Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)[4]);
  return idle / CLK_TCK;
}

/** Idle share of the machine (all cores) in each `bucketMs` from the samples' start, from the samples that bound it. */
function idlePerBucket(samples: { at: number; idle: number }[], bucketMs: number): number[] {
  const out: number[] = [];
  for (let b = 0; samples.length > 1 && b * bucketMs < samples[samples.length - 1].at; b++) {
    const inside = samples.filter((s) => s.at >= b * bucketMs && s.at <= (b + 1) * bucketMs);
    if (inside.length < 2) { out.push(NaN); continue; }
    const first = inside[0];
    const last = inside[inside.length - 1];
    const span = (last.at - first.at) / 1000;
    out.push(span > 0 ? Math.round((100 * (last.idle - first.idle)) / (span * CORES)) : NaN);
  }
  return out;
}

function printCpu(name: string, before: Record<string, number>, after: Record<string, number>, wallS: number, tasks: number): void {
  const used = (k: string) => after[k] - before[k];
  const parts = Object.keys(after).map((k) => `${k} ${used(k).toFixed(2)} s (${((100 * used(k)) / wallS).toFixed(0)} %)`);
  console.log(`[cpu ${name}] over ${wallS.toFixed(2)} s wall: ${parts.join(', ')} — % of one core; the machine has ${CORES} (machine figures: all processes, also other users')`);
  const ticks = ['machine busy', 'machine idle', 'machine iowait', 'machine steal'].reduce((sum, k) => sum + used(k), 0);
  const steal = ticks > 0 ? used('machine steal') / ticks : 0;
  if (steal >= 0.1) {
    console.log(`[cpu ${name}] WARNING: the hypervisor took ${(100 * steal).toFixed(0)} % of the machine's CPU time (steal): ` +
      'other tenants slowed this run, rerun it before comparing figures');
  }
  // Only a run that keeps every core busy is bound by CPU per task.
  if (name !== 'wide' || tasks === 0) return;
  // A saturated machine's rate is cores ÷ CPU per task. The task processes themselves are a
  // floor no orchestrator removes; everything else (sf-spawner included) is what Swarmflow
  // spends, plus this process's own polling of the run every 20 ms.
  const perTask = (keys: string[]) => (1000 * keys.reduce((sum, k) => sum + used(k), 0)) / tasks;
  const own = perTask(['task processes']);
  const orchestration = perTask(['scheduler (bench process)', 'workers', 'sf-spawner', 'postgres', 'rabbitmq']);
  const bound = (ms: number) => (ms > 0 ? Math.round((1000 * CORES) / ms) : Infinity);
  console.log(`[cpu ${name}] per task: task process ${own.toFixed(2)} ms, orchestration (scheduler, workers, sf-spawner, PostgreSQL, ` +
    `RabbitMQ) ${orchestration.toFixed(2)} ms; ${CORES} cores allow at most ${bound(own)} tasks/s for the task processes alone, ` +
    `${bound(own + orchestration)} tasks/s with this orchestration`);
}

// --- main --------------------------------------------------------------------------

async function versions(stack: Stack): Promise<{ node: string; postgres: string; rabbitmq: string }> {
  const [{ server_version: postgres }] = await stack.repos.db.query(`SHOW server_version`);
  let rabbitmq = 'unknown';
  try {
    const conn = await amqp.connect(rabbitmqUrl());
    rabbitmq = String((conn as any).connection?.serverProperties?.version ?? 'unknown');
    await conn.close();
  } catch {
    // The version is informative only.
  }
  return { node: process.version, postgres, rabbitmq };
}

async function main(): Promise<number> {
  const opts = readOptions();
  const prefix = `swbench-${randomBytes(4).toString('hex')}.`;
  const slots = opts.workers * opts.concurrency;
  const worker = workerCommand(opts);
  let testDb: TestDatabase | undefined;
  let stack: Stack | undefined;
  let workers: WorkerProcess[] = [];
  let exitCode = 0;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    process.stderr.write('interrupted: cleaning up…\n');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A rejection nobody handles inside the scheduler (seen: the log sink acking on a closing
  // channel at stop) must not kill the process before the database and queues are cleaned up.
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`WARNING: unhandled rejection inside the scheduler (not in bench/): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  });

  try {
    testDb = await createTestDatabase();
    const brokerOf = async () => {
      const b = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: quietLogger, connectionName: `swarmflow bench ${prefix}` });
      await b.start();
      return b;
    };
    stack = new Stack({
      databaseUrl: testDb.url,
      dagFiles: {
        'bench_warmup.yaml': wideDag('bench_warmup', Math.max(opts.warmup, 2 * slots)),
        'bench_warmup_chain.yaml': chainDag('bench_warmup_chain', 20),
        'bench_wide.yaml': wideDag('bench_wide', opts.wide),
        'bench_chain.yaml': chainDag('bench_chain', opts.chain),
      },
      makeBroker: brokerOf,
      workers: [],
      scheduler: { tickMs: opts.tickMs, eventCoalesceMs: opts.coalesceMs, artifactsUrl: opts.artifactsUrl },
    });
    await stack.start();
    const errors = await stack.repos.dags.importErrors();
    if (errors.length > 0) throw new Error(`benchmark DAGs failed to import: ${JSON.stringify(errors)}`);
    await stack.repos.pools.upsert({ name: 'default_pool', slots: 10_000, description: 'raised by the benchmark' });

    const probe = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: quietLogger });
    await probe.start();
    const clusterKey = stack.clusterKey.toBase64();
    workers = Array.from({ length: opts.workers }, (_, i) =>
      spawnWorker(`bench-w${i + 1}-${prefix.slice(8, 16)}`, prefix, opts.concurrency, worker.args, clusterKey));
    await waitForWorkers(probe, workers);
    await probe.close();

    const v = await versions(stack);
    console.log(`Swarmflow engine benchmark — node ${v.node}, PostgreSQL ${v.postgres}, RabbitMQ ${v.rabbitmq}`);
    console.log(`  database ${testDb.name} on ${new URL(postgresAdminUrl()).host}, broker ${redactedRabbitmqUrl()} prefix "${prefix}"`);
    console.log(`  1 scheduler (this process, tick ${opts.tickMs} ms) + ${opts.workers} worker process(es) × ${opts.concurrency} slots: ${worker.label}`);
    if (opts.artifactsUrl !== null) console.log(`  artefacts store ${opts.artifactsUrl} (BENCH_ARTIFACTS_URL): task messages carry their artefacts location`);

    const profiler = opts.profile ? installProfiler() : null;
    // Long-running processes: measure them after V8 has compiled their hot paths, not while it does.
    const warm = await measure(stack, 'warm-up', 'bench_warmup', opts.timeoutMs, null);
    await measure(stack, 'warm-up chain', 'bench_warmup_chain', opts.timeoutMs, null);
    // What the warm-up churned is vacuumed now, not by autovacuum inside a measured run.
    await stack.repos.db.query('VACUUM ANALYZE');
    console.log(`  warm-up (not reported): ${warm.tasks} independent tasks in ${warm.wallS.toFixed(2)} s ` +
      `(${Math.round(warm.tasks / warm.wallS)} tasks/s, run creation included, processes cold), then a chain of 20; then VACUUM ANALYZE`);
    const results: RunResult[] = [];
    for (const [name, dagId] of [['wide', 'bench_wide'], ['chain', 'bench_chain']] as const) {
      if (!opts.only.includes(name)) continue;
      if (interrupted) throw new Error('interrupted');
      const cpu = () => cpuSnapshot(workers.map((w) => w.child.pid!), testDb!.name);
      results.push(await measure(stack, name, dagId, opts.timeoutMs, profiler, cpu));
    }
    printResults(results, opts);
  } catch (err) {
    exitCode = 1;
    process.stderr.write(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!(err instanceof RunFailedError) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  } finally {
    await stopWorkers(workers).catch((e) => process.stderr.write(`stopping workers: ${e}\n`));
    if (opts.profile) for (const w of workers) for (const line of w.output().split('\n')) if (line.startsWith('[probe]')) console.log(line);
    await stack?.stop().catch((e) => process.stderr.write(`stopping the scheduler: ${e}\n`));
    await deleteRabbitMQTopology(prefix, [taskQueue('default').name, EVENTS_QUEUE.name, LOGS_QUEUE.name])
      .catch((e) => process.stderr.write(`deleting the RabbitMQ queues of ${prefix}: ${e}\n`));
    await testDb?.drop().catch((e) => process.stderr.write(`dropping ${testDb?.name}: ${e}\n`));
  }
  return interrupted ? 130 : exitCode;
}

function printResults(results: RunResult[], opts: BenchOptions): void {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
  const table = new Table({
    head: ['benchmark', 'tasks', 'wall s', 'tasks/s', 'ms/hop', 'start delay ms', 'Σ task run s', 'queued→started p50 ms', 'p95 ms'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const r of results) {
    const perHop = r.name === 'chain' ? (r.wallS * 1000 - r.taskRunMs) / opts.chain : NaN;
    table.push([
      r.name === 'wide' ? `(a) wide, ${opts.wide} independent` : `(b) chain of ${opts.chain}`,
      r.tasks, f(r.wallS, 2), f(r.tasks / r.wallS, 0), f(perHop, 2), f(r.startDelayMs, 0), f(r.taskRunMs / 1000, 2),
      f(percentile(r.latencies, 50)), f(percentile(r.latencies, 95)),
    ]);
  }
  console.log(table.toString());
  const wide = results.find((r) => r.name === 'wide');
  const chain = results.find((r) => r.name === 'chain');
  const wideRate = wide ? wide.tasks / wide.wallS : NaN;
  const hop = chain ? (chain.wallS * 1000 - chain.taskRunMs) / opts.chain : NaN;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  if (chain?.hop) {
    console.log(`chain hop, mean ms: previous task's ended_at → next queued_at ${f(chain.hop.finishedToQueued, 2)} ` +
      `(task.finished event to the scheduler iteration that dispatches) + queued_at → started_at ${f(chain.hop.queuedToStarted, 2)} ` +
      `(iteration, commit, publish, delivery, spawn) + started_at → ended_at ${f(chain.hop.startedToEnded, 2)} (process, log flush)`);
  }
  console.log(`goal  throughput ≥ ${GOAL_TASKS_PER_S} tasks/s: ${f(wideRate, 0)} — ${verdict(wideRate >= GOAL_TASKS_PER_S)}`);
  console.log(`goal  overhead ≤ ${GOAL_MS_PER_HOP} ms/hop: ${f(hop, 2)} — ${verdict(hop <= GOAL_MS_PER_HOP)}`);
  console.log(`peers Celery 5.2 + RabbitMQ (FACTS.md): ${CELERY_NO_BACKEND_TASKS_PER_S} tasks/s without a result backend, ` +
    `${CELERY_PG_BACKEND_TASKS_PER_S} with the Postgres backend; chain ${CELERY_CHAIN_MS_PER_HOP} ms/hop ` +
    `(${CELERY_CHAIN_WITH_STATE_MS_PER_HOP} with state)`);
  console.log('notes ms/hop = (wall − Σ task run) / chain length; wall = trigger → run seen finished (20 ms poll), ' +
    'so it includes the start delay (trigger → first task queued).');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (require.main === module) {
  main().then((code) => process.exit(code), (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
