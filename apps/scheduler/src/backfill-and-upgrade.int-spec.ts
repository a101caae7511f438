import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { INestApplication } from '@nestjs/common';
import { AmqpBroker, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import type { CliDeps } from '../../cli/src/cli-context';
import { runCli } from '../../cli/src/program';
import { createTestToken } from '../../webserver/src/test-support/auth';
import { createWebserver } from '../../webserver/src/webserver';
import type { Stack } from './test-support/stack';
import { useStack } from './test-support/use-stack';

// Backfill and run upgrades end to end: the CLI against the REST API, a scheduler and a
// worker on PostgreSQL and RabbitMQ, process tasks that leave a line per execution.

const out = mkdtempSync(path.join(tmpdir(), 'swarmflow-backfill-'));
const prefix = `sftest-${randomBytes(4).toString('hex')}.`;

/** Each task appends "<task> <ds>" to a file: what ran, for which interval. */
const step = (task: string) => `echo "${task} {{ ds }}" >> ${path.join(out, 'executions')}`;
const executions = (): string[] => (existsSync(path.join(out, 'executions')) ? readFileSync(path.join(out, 'executions'), 'utf8').trim().split('\n').filter(Boolean).sort() : []);

// extract -> clean -> train -> report ; extract -> stats. A start date far ahead: the schedule itself creates no run.
const ETL = `id: etl
schedule: "0 3 * * *"
start_date: "2099-01-01"
tasks:
  extract: { shell: '${step('extract')}' }
  clean: { shell: '${step('clean')}', upstream: [extract] }
  train: { shell: '${step('train')}', upstream: [clean] }
  report: { shell: '${step('report')}', upstream: [train] }
  stats: { shell: '${step('stats')}', upstream: [extract] }
`;

// a -> b -> c, and d on its own: a backfill of c (without --ignore-dependencies) runs a, b and c, not d.
const CHAIN = `id: chain
schedule: "0 3 * * *"
start_date: "2099-01-01"
tasks:
  a: { shell: '${step('chain.a')}' }
  b: { shell: '${step('chain.b')}', upstream: [a] }
  c: { shell: '${step('chain.c')}', upstream: [b] }
  d: { shell: '${step('chain.d')}' }
`;

const gate = path.join(out, 'gate');
// b waits for the gate file, so that the DAG file can be edited while the run is running.
const EVOLVING_V1 = `id: evolving
tasks:
  a: { shell: '${step('a')}' }
  b: { shell: 'while [ ! -f ${gate} ]; do sleep 0.05; done; ${step('b')}', upstream: [a] }
`;
const EVOLVING_V2 = `${EVOLVING_V1}  c: { shell: '${step('c')}', upstream: [b] }
`;

const gate3 = path.join(out, 'gate3');
const SHRINK_V1 = `id: shrink
tasks:
  p: { shell: 'while [ ! -f ${gate3} ]; do sleep 0.05; done; ${step('p')}' }
  r: { shell: '${step('r')}', upstream: [p] }
`;
const SHRINK_V2 = `id: shrink
tasks:
  p: { shell: 'while [ ! -f ${gate3} ]; do sleep 0.05; done; ${step('p')}' }
  s: { shell: '${step('s')}', upstream: [p] }
`;
const SHRINK_V3 = `id: shrink
tasks:
  s: { shell: '${step('s')}' }
`;

const gate4 = path.join(out, 'gate4');
// A run of v1 ends success; v2 adds z (held by the gate, so that the upgraded run is seen running).
const GROWN_V1 = `id: grown
tasks:
  x: { shell: '${step('x')}' }
  y: { shell: '${step('y')}', upstream: [x] }
`;
const GROWN_V2 = `${GROWN_V1}  z: { shell: 'while [ ! -f ${gate4} ]; do sleep 0.05; done; ${step('z')}', upstream: [y] }
`;

const gate2 = path.join(out, 'gate2');
const SLOW = `id: slow
schedule: "0 3 * * *"
start_date: "2099-01-01"
max_active_runs: 16
tasks:
  w: { shell: 'while [ ! -f ${gate2} ]; do sleep 0.05; done; ${step('w')}' }
`;

// max_active_runs 1: a backfill asking for 3 at once still runs one at a time.
const SERIAL = `id: serial
schedule: "0 3 * * *"
start_date: "2099-01-01"
max_active_runs: 1
tasks:
  s1: { shell: '${step('s1')}' }
  s2: { shell: '${step('s2')}', upstream: [s1] }
`;

describeWithRabbitMQ('backfill and run upgrade (CLI, API, scheduler, worker on PostgreSQL and RabbitMQ)', () => {
  describeWithPostgres('', () => {
    const stack = useStack({
      dagFiles: { 'etl.yaml': ETL, 'evolving.yaml': EVOLVING_V1, 'slow.yaml': SLOW, 'shrink.yaml': SHRINK_V1, 'serial.yaml': SERIAL, 'grown.yaml': GROWN_V1, 'chain.yaml': CHAIN },
      makeBroker: async () => {
        const broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: { log: () => {}, warn: () => {}, error: () => {} }, connectionName: `swarmflow backfill test ${prefix}` });
        await broker.start();
        return broker;
      },
    });
    let app: INestApplication;
    let url: string;
    let token: string;

    beforeAll(async () => {
      const s: Stack = stack();
      app = await createWebserver({ repos: s.repos, logger: false, onChange: () => s.scheduler.runner.nudge() });
      await app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
      token = await createTestToken(s.repos, 'operator');
    }, 30_000);

    afterAll(async () => {
      await app?.close();
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name]).catch(() => {});
      rmSync(out, { recursive: true, force: true });
    });

    async function cli(args: string[], over: Partial<CliDeps> = {}): Promise<{ code: number; out: string; err: string }> {
      let stdout = '';
      let stderr = '';
      const deps: CliDeps = {
        stdout: (s) => { stdout += s; },
        stderr: (s) => { stderr += s; },
        env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
        sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 100))),
        now: () => new Date(),
        readFile: () => null,
        progressStream: Object.assign(new PassThrough(), { isTTY: false }),
        onInterrupt: () => () => {},
        ...over,
      };
      const code = await runCli(args, deps);
      return { code, out: stdout, err: stderr };
    }

    it('backfills 3 days with a task regex and --ignore-dependencies: exactly the matching tasks, in 3 runs; again, nothing new', async () => {
      const args = ['dags', 'backfill', 'etl', '--from', '2024-01-01', '--to', '2024-01-03T03:00:00Z', '--tasks', '^(train|report)$', '--ignore-dependencies'];
      const dry = await cli([...args, '--dry-run']);
      expect(dry.err).toBe('');
      expect(dry.out).toContain('3 run(s) from 2024-01-01 00:00:00 to 2024-01-03 03:00:00');
      expect(dry.out).toContain('tasks: train, report; left out (end removed in new runs): extract, clean, stats');
      expect(dry.out).toMatch(/^2024-01-02 03:00:00\s+create\s+backfill__2024-01-02T03:00:00.000Z\s+-$/m);
      expect(await stack().repos.runs.list({ dagId: 'etl' })).toEqual([]);

      const first = await cli(args);
      expect(first.err).toBe('');
      expect(first.code).toBe(0);
      expect(first.out).toContain('started backfill #1 of etl: 3 run(s) from 2024-01-01 00:00:00 to 2024-01-03 03:00:00, tasks train, report (left out: extract, clean, stats)');
      expect(first.out).toContain('backfill #1: 3/3 run(s) ended (3 success, 0 failed), 0 running, 0 queued');
      expect(first.out).toContain('backfill #1 of etl: all 3 run(s) succeeded');
      expect(executions()).toEqual([
        'report 2024-01-01', 'report 2024-01-02', 'report 2024-01-03', 'train 2024-01-01', 'train 2024-01-02', 'train 2024-01-03',
      ]);
      const runs = await stack().repos.runs.list({ dagId: 'etl' });
      expect(runs.map((r) => [r.runId, r.runType, r.state]).sort()).toEqual([
        ['backfill__2024-01-01T03:00:00.000Z', 'backfill', 'success'],
        ['backfill__2024-01-02T03:00:00.000Z', 'backfill', 'success'],
        ['backfill__2024-01-03T03:00:00.000Z', 'backfill', 'success'],
      ]);
      const tis = await stack().repos.tis.forRuns(runs.map((r) => r.pk));
      const states = (task: string) => tis.filter((t) => t.taskId === task).map((t) => t.state);
      expect(states('train')).toEqual(['success', 'success', 'success']);
      expect(states('report')).toEqual(['success', 'success', 'success']);
      for (const task of ['extract', 'clean', 'stats']) expect(states(task)).toEqual(['removed', 'removed', 'removed']);
      expect(tis.find((t) => t.taskId === 'extract')!.reason).toBe('not selected by backfill #1 (--tasks ^(train|report)$, --ignore-dependencies)');

      // Idempotent: the same backfill again reuses the 3 runs, runs nothing, and succeeds.
      const again = await cli(args);
      expect(again.code).toBe(0);
      expect(again.out).toContain('backfill #2 of etl: all 3 run(s) succeeded');
      expect(await stack().repos.runs.list({ dagId: 'etl' })).toHaveLength(3);
      expect(executions()).toHaveLength(6);

      // Backfill #1 handed its runs to #2 and ended: another backfill of the DAG is not refused.
      const other = await cli(['dags', 'backfill', 'etl', '--from', '2024-01-05', '--to', '2024-01-05T12:00:00Z', '--tasks', '^stats$', '--ignore-dependencies']);
      expect(other.err).toBe('');
      expect(other.code).toBe(0);
      expect(executions().filter((e) => e.startsWith('stats '))).toEqual(['stats 2024-01-05']);
    }, 60_000);

    it('backfills with a task regex and without --ignore-dependencies: the matching tasks and what they need upstream, nothing else', async () => {
      const s = stack();
      const chainRan = () => executions().filter((e) => e.startsWith('chain.'));
      /** The states of the runs' task instances by task, one per run, oldest run first. */
      const statesByTask = async (runIds: string[]) => {
        const runs = await Promise.all(runIds.map(async (id) => (await s.repos.runs.get('chain', id))!));
        expect(runs.map((r) => [r.runType, r.state])).toEqual(runIds.map(() => ['backfill', 'success']));
        const tis = await s.repos.tis.forRuns(runs.map((r) => r.pk));
        const byTask: Record<string, string[]> = {};
        for (const r of runs) for (const t of tis.filter((x) => x.runPk === r.pk)) (byTask[t.taskId] ??= []).push(t.state);
        return { byTask, tis };
      };

      // c needs b, which needs a: those three run; d is left out.
      const args = ['dags', 'backfill', 'chain', '--from', '2024-06-01', '--to', '2024-06-02T03:00:00Z', '--tasks', '^c$'];
      const dry = await cli([...args, '--dry-run']);
      expect(dry.err).toBe('');
      expect(dry.out).toContain('tasks: a, b, c; left out (end removed in new runs): d');
      const res = await cli(args);
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      expect(res.out).toContain('2 run(s) from 2024-06-01 00:00:00 to 2024-06-02 03:00:00, tasks a, b, c (left out: d)');
      expect(res.out).toMatch(/all 2 run\(s\) succeeded\n$/);
      expect(chainRan()).toEqual(['chain.a 2024-06-01', 'chain.a 2024-06-02', 'chain.b 2024-06-01', 'chain.b 2024-06-02', 'chain.c 2024-06-01', 'chain.c 2024-06-02']);
      const first = await statesByTask(['backfill__2024-06-01T03:00:00.000Z', 'backfill__2024-06-02T03:00:00.000Z']);
      expect(first.byTask).toEqual({ a: ['success', 'success'], b: ['success', 'success'], c: ['success', 'success'], d: ['removed', 'removed'] });
      // In dependency order, each once: b after a ended, c after b ended.
      for (const runPk of new Set(first.tis.map((t) => t.runPk))) {
        const at = (task: string) => first.tis.find((t) => t.runPk === runPk && t.taskId === task)!;
        expect(at('b').startedAt!.getTime()).toBeGreaterThanOrEqual(at('a').endedAt!.getTime());
        expect(at('c').startedAt!.getTime()).toBeGreaterThanOrEqual(at('b').endedAt!.getTime());
        expect(['a', 'b', 'c'].map((t) => at(t).tryNumber)).toEqual([1, 1, 1]);
        expect(at('d')).toMatchObject({ tryNumber: 0, reason: expect.stringMatching(/^not selected by backfill #\d+ \(--tasks \^c\$\)$/) });
      }

      // b needs a: those two run; c (downstream of b) and d are left out. On a terminal, with a progress bar.
      let bar = '';
      const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
      terminal.on('data', (chunk: Buffer) => { bar += chunk.toString(); });
      const second = await cli(['dags', 'backfill', 'chain', '--from', '2024-06-10', '--to', '2024-06-11T03:00:00Z', '--tasks', '^b$'], { progressStream: terminal });
      expect(second.err).toBe('');
      expect(second.code).toBe(0);
      expect(second.out).toContain('tasks a, b (left out: d, c)');
      expect(second.out).not.toContain('run(s) ended'); // the plain progress lines are for a non-terminal
      const ended = /backfill #\d+ \[[^\]]+\] 2\/2 runs \| 2 ok, 0 failed, 0 running \| ETA 0s/;
      // The stream hands on what was written a tick later.
      await waitUntil('the progress bar to show every run ended', () => ended.test(bar), { timeoutMs: 5_000, intervalMs: 10 });
      expect(chainRan().filter((e) => e.includes(' 2024-06-1'))).toEqual(['chain.a 2024-06-10', 'chain.a 2024-06-11', 'chain.b 2024-06-10', 'chain.b 2024-06-11']);
      const later = await statesByTask(['backfill__2024-06-10T03:00:00.000Z', 'backfill__2024-06-11T03:00:00.000Z']);
      expect(later.byTask).toEqual({ a: ['success', 'success'], b: ['success', 'success'], c: ['removed', 'removed'], d: ['removed', 'removed'] });
      expect(await s.repos.runs.list({ dagId: 'chain' })).toHaveLength(4);
    }, 60_000);

    it('a DAG file edited mid-run: the running run keeps its version; runs upgrade then schedules only the new task', async () => {
      const s = stack();
      const run = await s.trigger('evolving');
      const v1 = run.versionHash;
      await waitUntil('b running', async () => (await s.repos.tis.forRuns([run.pk])).some((t) => t.taskId === 'b' && t.state === 'running'), { timeoutMs: 20_000, intervalMs: 50 });

      s.writeDags({ 'evolving.yaml': EVOLVING_V2 });
      await s.scheduler.parseDags(true);
      const v2 = (await s.repos.dags.get('evolving'))!.latestVersion;
      expect(v2).not.toBe(v1);
      expect((await s.repos.runs.get('evolving', run.runId))!.versionHash).toBe(v1);
      expect((await s.repos.tis.forRuns([run.pk])).map((t) => t.taskId).sort()).toEqual(['a', 'b']);

      const versions = await cli(['dags', 'versions', 'evolving']);
      expect(versions.code).toBe(0);
      expect(versions.out).toMatch(new RegExp(`^${v2.slice(0, 12)}\\s+\\S+ \\S+\\s+evolving.yaml\\s+3\\s+latest$`, 'm'));
      expect(versions.out).toMatch(new RegExp(`^${v1.slice(0, 12)}\\s+\\S+ \\S+\\s+evolving.yaml\\s+2\\s*$`, 'm'));

      const dry = await cli(['runs', 'upgrade', 'evolving', run.runId, '--dry-run']);
      expect(dry.err).toBe('');
      expect(dry.out).toContain(`would move run ${run.runId} of evolving from version ${v1.slice(0, 12)} to ${v2.slice(0, 12)}`);
      expect(dry.out).toMatch(/^c\s+added\s+runs when its upstreams allow$/m);
      expect(dry.out).toMatch(/^a\s+kept\s+success$/m);
      expect(dry.out).toMatch(/^b\s+kept\s+running$/m);
      expect((await s.repos.runs.get('evolving', run.runId))!.versionHash).toBe(v1);

      const up = await cli(['runs', 'upgrade', 'evolving', run.runId, '--to', v2.slice(0, 8)]);
      expect(up.code).toBe(0);
      expect(up.out).toContain(`moved run ${run.runId} of evolving from version ${v1.slice(0, 12)} to ${v2.slice(0, 12)}`);
      expect((await s.repos.runs.get('evolving', run.runId))!.versionHash).toBe(v2);

      writeFileSync(gate, '');
      const { state, tis } = await s.waitForRun(run, 20_000);
      expect(state).toBe('success');
      expect([...tis.values()].map((t) => [t.taskId, t.state, t.tryNumber]).sort()).toEqual([['a', 'success', 1], ['b', 'success', 1], ['c', 'success', 1]]);
      // Only the new task was added: a and b ran once each, c once after b.
      expect(executions().filter((e) => /^[abc] /.test(e)).map((e) => e.split(' ')[0])).toEqual(['a', 'b', 'c']);
    }, 60_000);

    it('runs upgrade of a finished run: the run is running again, only the new task runs, the run succeeds again', async () => {
      const s = stack();
      const run = await s.trigger('grown');
      const first = await s.waitForRun(run, 20_000);
      expect(first.state).toBe('success');
      const endedBefore = (await s.repos.runs.get('grown', run.runId))!.endedAt;
      expect(endedBefore).not.toBeNull();

      s.writeDags({ 'grown.yaml': GROWN_V2 });
      await s.scheduler.parseDags(true);
      const v2 = (await s.repos.dags.get('grown'))!.latestVersion;
      expect(v2).not.toBe(run.versionHash);

      const up = await cli(['runs', 'upgrade', 'grown', run.runId, '--json']);
      expect({ code: up.code, err: up.err }).toEqual({ code: 0, err: '' });
      const result = JSON.parse(up.out) as { from: string; to: string; added: string[]; removed: unknown[]; run: { state: string } };
      expect(result).toMatchObject({ from: run.versionHash, to: v2, added: ['z'], removed: [], run: { state: 'running' } });
      // Back to running in the database, while z waits for its gate; the ended tasks keep their state and try.
      const during = (await s.repos.runs.get('grown', run.runId))!;
      expect({ state: during.state, version: during.versionHash }).toEqual({ state: 'running', version: v2 });
      await waitUntil('z running', async () => (await s.repos.tis.forRuns([run.pk])).some((t) => t.taskId === 'z' && t.state === 'running'), { timeoutMs: 20_000, intervalMs: 50 });
      expect((await s.repos.tis.forRuns([run.pk])).filter((t) => t.taskId !== 'z').map((t) => [t.taskId, t.state, t.tryNumber]).sort())
        .toEqual([['x', 'success', 1], ['y', 'success', 1]]);

      writeFileSync(gate4, '');
      const { state, tis } = await s.waitForRun(run, 20_000);
      expect(state).toBe('success');
      expect([...tis.values()].map((t) => [t.taskId, t.state, t.tryNumber]).sort()).toEqual([['x', 'success', 1], ['y', 'success', 1], ['z', 'success', 1]]);
      // x and y ran once (the first time), z once after the upgrade.
      expect(executions().filter((e) => /^[xyz] /.test(e)).map((e) => e.split(' ')[0])).toEqual(['x', 'y', 'z']);
    }, 60_000);

    it('Ctrl-C pauses a backfill (its queued runs wait), the same command resumes it; --max-active-runs bounds its running runs', async () => {
      const s = stack();
      const args = ['dags', 'backfill', 'slow', '--from', '2024-02-01', '--to', '2024-02-03T12:00:00Z', '--max-active-runs', '1'];
      const states = async () => (await s.repos.runs.list({ dagId: 'slow' })).map((r) => r.state).sort();
      let interrupt: (() => void) | null = null;
      const interrupted = await cli(args, {
        onInterrupt: (handler) => {
          interrupt = handler;
          return () => {};
        },
        sleep: async () => {
          if ((await states()).includes('running')) interrupt!();
          await new Promise((r) => setTimeout(r, 50));
        },
      });
      expect(interrupted.code).toBe(130);
      expect(interrupted.err).toMatch(/^interrupted: backfill #\d+ is paused \(running runs finish, queued ones wait\); run the same command again to resume it\n$/);
      expect(await states()).toEqual(['queued', 'queued', 'running']);

      // The running run finishes; the paused backfill's queued runs are not started.
      writeFileSync(gate2, '');
      await waitUntil('the running run to end', async () => (await states()).includes('success'), { timeoutMs: 20_000, intervalMs: 50 });
      const seen = s.scheduler.runner.iterations;
      s.scheduler.runner.nudge();
      await waitUntil('10 more scheduler iterations', () => s.scheduler.runner.iterations >= seen + 10, { timeoutMs: 20_000, intervalMs: 20 });
      expect(await states()).toEqual(['queued', 'queued', 'success']);

      const resumed = await cli(args);
      expect(resumed.code).toBe(0);
      expect(resumed.out).toMatch(/^resumed backfill #\d+ of slow: 3 run\(s\)/);
      expect(resumed.out).toMatch(/all 3 run\(s\) succeeded\n$/);
      // One at a time: each run started after the one before had ended.
      const runs = (await s.repos.runs.list({ dagId: 'slow' })).sort((a, b) => a.logicalDate.getTime() - b.logicalDate.getTime());
      for (let i = 1; i < runs.length; i++) expect(runs[i].startedAt!.getTime()).toBeGreaterThanOrEqual(runs[i - 1].endedAt!.getTime());
      expect(executions().filter((e) => e.startsWith('w '))).toEqual(['w 2024-02-01', 'w 2024-02-02', 'w 2024-02-03']);
    }, 60_000);

    it("a backfill honours its DAG's max_active_runs as well as its own --max-active-runs: never 2 runs of a max_active_runs 1 DAG at once", async () => {
      const s = stack();
      const res = await cli(['dags', 'backfill', 'serial', '--from', '2024-04-01', '--to', '2024-04-04T12:00:00Z', '--max-active-runs', '4']);
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      expect(res.out).toMatch(/all 4 run\(s\) succeeded\n$/);
      const runs = (await s.repos.runs.list({ dagId: 'serial' })).sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime());
      expect(runs.map((r) => [r.runType, r.state])).toEqual(Array(4).fill(['backfill', 'success']));
      // From the recorded times, not from timing: each run started once the one before had ended.
      for (let i = 1; i < runs.length; i++) expect(runs[i].startedAt!.getTime()).toBeGreaterThanOrEqual(runs[i - 1].endedAt!.getTime());
      // And each run's tasks ran inside its own window: no task of one run ran while another run was running.
      const tis = await s.repos.tis.forRuns(runs.map((r) => r.pk));
      for (const r of runs) {
        for (const t of tis.filter((x) => x.runPk === r.pk)) {
          expect(t.startedAt!.getTime()).toBeGreaterThanOrEqual(r.startedAt!.getTime());
          expect(t.endedAt!.getTime()).toBeLessThanOrEqual(r.endedAt!.getTime());
        }
      }
    }, 60_000);

    it('refuses a --tasks pattern that could backtrack for ages, naming the flag, before anything is created', async () => {
      const res = await cli(['dags', 'backfill', 'serial', '--from', '2024-05-01', '--to', '2024-05-02', '--tasks', '^(s[0-9]+)+$']);
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('--tasks "^(s[0-9]+)+$" repeats a group that itself holds a repetition (a nested quantifier)');
      expect(res.err).toContain("Fix: use a simpler pattern, e.g. --tasks '^train'");
      expect((await stack().repos.runs.list({ dagId: 'serial' })).filter((r) => r.logicalDate.getTime() >= Date.parse('2024-05-01'))).toEqual([]);
    }, 30_000);

    it('exits 1 naming the failed runs; --rerun-failed runs only their failed tasks again', async () => {
      const s = stack();
      const broken = path.join(out, 'broken-2024-03-02');
      writeFileSync(broken, '');
      // f fails for a date whose "broken" file exists; g runs after it.
      s.writeDags({ 'failing.yaml': `id: failing\nschedule: "@daily"\nstart_date: "2099-01-01"\ntasks:\n  f: { shell: '${step('f')} && test ! -f ${path.join(out, 'broken-{{ ds }}')}' }\n  g: { shell: '${step('g')}', upstream: [f] }\n` });
      await s.scheduler.parseDags(true);
      const args = ['dags', 'backfill', 'failing', '--from', '2024-03-01', '--to', '2024-03-03'];
      const res = await cli(args);
      expect(res.code).toBe(1);
      expect(res.err).toBe('backfill #' + /#(\d+)/.exec(res.out)![1] + ' of failing: 1 of 3 run(s) failed: backfill__2024-03-02T00:00:00.000Z. ' +
        'See `swarmflow runs show failing <run>`; `--rerun-failed` runs their failed tasks again\n');

      rmSync(broken);
      const dry = await cli([...args, '--rerun-failed', '--dry-run']);
      expect(dry.out).toMatch(/^2024-03-02 00:00:00\s+rerun\s+backfill__2024-03-02T00:00:00.000Z\s+f, g$/m);
      expect(dry.out).toMatch(/^2024-03-01 00:00:00\s+reuse\s+backfill__2024-03-01T00:00:00.000Z\s+-$/m);
      const rerun = await cli([...args, '--rerun-failed']);
      expect(rerun.err).toBe('');
      expect(rerun.code).toBe(0);
      const ran = executions().filter((e) => /^[fg] 2024-03/.test(e));
      expect(ran).toEqual(['f 2024-03-01', 'f 2024-03-02', 'f 2024-03-02', 'f 2024-03-03', 'g 2024-03-01', 'g 2024-03-02', 'g 2024-03-03']);
    }, 60_000);

    it('runs upgrade ends removed tasks `removed`, and refuses while a task the version lacks is running', async () => {
      const s = stack();
      const run = await s.trigger('shrink');
      await waitUntil('p running', async () => (await s.repos.tis.forRuns([run.pk])).some((t) => t.taskId === 'p' && t.state === 'running'), { timeoutMs: 20_000, intervalMs: 50 });
      s.writeDags({ 'shrink.yaml': SHRINK_V2 });
      await s.scheduler.parseDags(true);
      const v2 = (await s.repos.dags.get('shrink'))!.latestVersion;
      s.writeDags({ 'shrink.yaml': SHRINK_V3 });
      await s.scheduler.parseDags(true);

      const refused = await cli(['runs', 'upgrade', 'shrink', run.runId]);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toContain(`run "${run.runId}" of DAG "shrink" cannot move to version`);
      expect(refused.err).toContain('"p" (running) is queued or running and the new version has no such task. Fix: wait for it to end');

      const up = await cli(['runs', 'upgrade', 'shrink', run.runId, '--to', v2.slice(0, 10)]);
      expect(up.err).toBe('');
      expect(up.out).toMatch(/^s\s+added\s+runs when its upstreams allow$/m);
      expect(up.out).toMatch(/^r\s+removed\s+none → removed$/m);
      expect(up.out).toMatch(/^p\s+kept\s+running$/m);

      writeFileSync(gate3, '');
      const { state, tis } = await s.waitForRun(run, 20_000);
      expect(state).toBe('success');
      expect([...tis.values()].map((t) => [t.taskId, t.state]).sort()).toEqual([['p', 'success'], ['r', 'removed'], ['s', 'success']]);
      expect(tis.get('r')!.reason).toMatch(/^removed: version [0-9a-f]{12} of the DAG has no such task \(runs upgrade\)$/);
      expect(executions().filter((e) => /^[prs] /.test(e)).map((e) => e.split(' ')[0])).toEqual(['p', 's']);
    }, 60_000);
  });
});
