import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { nativeSpawnerPath } from './native-spawner';

// sf-spawner is the parent of every task it starts: a task can read its /proc/<ppid>/environ.
// Run in a child process: jest's sandboxed process.env never reaches a spawned program.
// Under CI=true it runs (and fails without the spawner, which CI builds): a missing build must not pass silently.
const withSpawner = (nativeSpawnerPath() !== null && process.env.SWARMFLOW_PROCESS_SPAWNER !== 'node') || process.env.CI === 'true' ? it : it.skip;

describe('what a task can read of sf-spawner', () => {
  withSpawner('holds none of the worker\'s SWARMFLOW_* settings (cluster key, broker and database URLs)', () => {
    const script = `
      const { runProcess } = require(${JSON.stringify(path.join(__dirname, 'process-executor.ts'))});
      const out = [];
      runProcess({ command: 'tr "\\\\000" "\\\\n" < /proc/$PPID/environ', env: {}, cwd: null, timeoutMs: 10000, onLine: (s, l) => out.push(l) })
        .result.then((r) => { process.stdout.write(JSON.stringify({ code: r.exitCode, out })); process.exit(0); });`;
    const result = JSON.parse(execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      env: { ...process.env, SWARMFLOW_CLUSTER_KEY: 'c3Bhd25lci1sZWFrLXRlc3Q=', SWARMFLOW_AMQP_URL: 'amqp://u:spawnerleak@mq', SWARMFLOW_PROCESS_SPAWNER: 'native' },
      encoding: 'utf8', timeout: 60_000,
    })) as { code: number; out: string[] };
    expect(result.code).toBe(0);
    expect(result.out.some((l) => l.startsWith('PATH='))).toBe(true);
    expect(result.out.filter((l) => l.startsWith('SWARMFLOW_'))).toEqual([]);
  });
});
