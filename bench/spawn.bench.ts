/**
 * Process start cost: `runProcess` with Node's `child_process.spawn` against the native
 * spawner (`sf-spawner`), on tasks that run `true`. For each spawner, BENCH_SPAWN_TASKS
 * (default 1,000) tasks one after another, then as many with BENCH_SPAWN_IN_FLIGHT (8)
 * running at once, after 50 warm-up tasks.
 *
 * Per task: wall time; time spent inside the `runProcess()` call (synchronous: the
 * worker's event loop is blocked that long); CPU of this Node process (process.cpuUsage),
 * of the spawner process, and of the task processes (the reaped children's CPU of
 * whichever process reaped them: /proc/<pid>/stat cutime + cstime, 10 ms ticks).
 *
 * A worker's RSS is 100–150 MB, and a fork copies the page tables of all of it:
 * BENCH_SPAWN_BALLAST_MB (default 100) MB of touched buffers stand in for it.
 *
 * Run: `npx tsx bench/spawn.bench.ts` (needs `npm run build:native` for the native rows).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { inheritedEnv, nativeSpawnerPath, runProcess, shutdownSpawner, type ProcessSpawner } from '@swarmflow/executors';
import { sharedSpawner } from '../libs/executors/src/process/native-spawner';

const TICK_MS = 10; // USER_HZ = 100 on Linux
const WARMUP = 50;

function intFromEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name] ?? String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return value;
}

/** utime + stime, cutime + cstime of a process, in ms. */
function procCpu(pid: number | 'self'): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  const at = (field: number): number => Number(fields[field - 3]) * TICK_MS;
  return { own: at(14) + at(15), children: at(16) + at(17) };
}

interface Sample {
  wallMs: number;
  callMs: number;
  nodeCpuMs: number;
  spawnerCpuMs: number;
  taskCpuMs: number;
}

/** Taken once, as a worker does. */
const baseEnv = inheritedEnv();

async function runTasks(count: number, inFlight: number, spawnerPid: number | null): Promise<Sample> {
  let callMs = 0;
  let failures = 0;
  const one = async (): Promise<void> => {
    const t = performance.now();
    const run = runProcess({ command: ['true'], env: {}, baseEnv, cwd: null, timeoutMs: null, onLine: () => undefined });
    callMs += performance.now() - t;
    const result = await run.result;
    if (result.exitCode !== 0) failures++;
  };
  const selfBefore = procCpu('self');
  const spawnerBefore = spawnerPid !== null ? procCpu(spawnerPid) : { own: 0, children: 0 };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) {
      next++;
      await one();
    }
  }));
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const selfAfter = procCpu('self');
  const spawnerAfter = spawnerPid !== null ? procCpu(spawnerPid) : { own: 0, children: 0 };
  if (failures > 0) throw new Error(`${failures} of ${count} tasks did not exit 0`);
  return {
    wallMs,
    callMs,
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    spawnerCpuMs: spawnerAfter.own - spawnerBefore.own,
    taskCpuMs: selfAfter.children - selfBefore.children + spawnerAfter.children - spawnerBefore.children,
  };
}

async function main(): Promise<void> {
  const tasks = intFromEnv('BENCH_SPAWN_TASKS', 1000, 100);
  const inFlight = intFromEnv('BENCH_SPAWN_IN_FLIGHT', 8, 2);
  const ballastMb = intFromEnv('BENCH_SPAWN_BALLAST_MB', 100, 0);
  const ballast = Array.from({ length: ballastMb }, () => Buffer.alloc(1024 * 1024, 1));
  const spawners: ProcessSpawner[] = nativeSpawnerPath() !== null ? ['node', 'native'] : ['node'];
  if (spawners.length === 1) console.log('sf-spawner is not built (npm run build:native): node only');
  console.log(`${tasks} tasks \`true\`, RSS of this process ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB (${ballast.length} MB ballast)`);

  const table = new Table({
    style: { head: [], border: [] },
    head: ['spawner', 'mode', 'wall ms/task', 'runProcess() call ms', 'Node CPU ms/task', 'spawner CPU ms/task', 'task CPU ms/task', 'total CPU ms/task'],
  });
  for (const spawner of spawners) {
    process.env.SWARMFLOW_PROCESS_SPAWNER = spawner;
    const spawnerPid = spawner === 'native' ? sharedSpawner(nativeSpawnerPath()!).pid ?? null : null;
    await runTasks(WARMUP, 1, spawnerPid);
    for (const [mode, lanes] of [['sequential', 1], [`${inFlight} in flight`, inFlight]] as const) {
      const s = await runTasks(tasks, lanes, spawnerPid);
      const per = (ms: number): string => (ms / tasks).toFixed(3);
      table.push([spawner, mode, per(s.wallMs), per(s.callMs), per(s.nodeCpuMs), per(s.spawnerCpuMs), per(s.taskCpuMs),
        per(s.nodeCpuMs + s.spawnerCpuMs + s.taskCpuMs)]);
    }
  }
  console.log(table.toString());
  await shutdownSpawner();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
