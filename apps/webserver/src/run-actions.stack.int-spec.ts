import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { describeWithDocker, TEST_IMAGE } from '@swarmflow/executors/test-support/docker';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from '../../scheduler/src/test-support/use-stack';
import { apiAs, createTestToken } from './test-support/auth';
import { createWebserver } from './webserver';

// Cancel and mark against a real scheduler and worker: the tries a worker runs are stopped
// (their processes are gone), their late ends do not undo the user's decision, and the run
// is re-evaluated.
const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-run-actions-'));
const pidFile = (name: string) => path.join(dir, `${name}.pid`);
// Each long task writes its shell's pid, then becomes `sleep` (same pid).
const long = (name: string) => `{ shell: "echo $$ > ${pidFile(name)}; exec sleep 300" }`;

describeWithPostgres('run actions with a real worker', () => {
  const stack = useStack({
    dagFiles: {
      'cancel_me.yaml': `id: cancel_me\ntasks:\n  slow: ${long('slow')}\n  after: { shell: "true", upstream: [slow] }\n  side: ${long('side')}\n`,
      'mark_me.yaml': `id: mark_me\ntasks:\n  slow: ${long('mark')}\n  after: { shell: "true", upstream: [slow] }\n`,
    },
    workers: [{ concurrency: 4 }],
  });
  let app: INestApplication;
  let token: string;

  beforeAll(async () => {
    const s = stack();
    app = await createWebserver({ repos: s.repos, logger: false, broker: await s.broker(), clusterKey: s.clusterKey, onChange: () => s.scheduler.runner.nudge() });
    token = await createTestToken(s.repos, 'operator', 'olga');
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pidOf = (name: string) => Number(readFileSync(pidFile(name), 'utf8').trim());
  const noTryRuns = async () => stack().workers.every((w) => w.runningTasks().length === 0);
  const tisOf = async (runPk: number) => new Map((await stack().repos.tis.forRuns([runPk])).map((t) => [t.taskId, t]));

  it('cancel: the running processes are gone, nothing runs, the run ended failed naming who', async () => {
    const run = await stack().trigger('cancel_me');
    await until('both long tasks run', async () => {
      const tis = await tisOf(run.pk);
      return tis.get('slow')?.state === 'running' && tis.get('side')?.state === 'running' && existsSync(pidFile('slow')) && existsSync(pidFile('side'));
    });
    const pids = [pidOf('slow'), pidOf('side')];
    expect(pids.every(alive)).toBe(true);

    const res = await apiAs(app, token).post(`/api/v1/dags/cancel_me/runs/${run.runId}/cancel`).expect(200);
    expect(res.body).toMatchObject({ state: 'failed', reason: 'cancelled by olga' });
    await until('the task processes are gone', async () => !pids.some(alive), 15_000);
    await until('no worker runs a try', noTryRuns, 15_000);

    const tis = await tisOf(run.pk);
    expect([...tis.values()].map((t) => [t.taskId, t.state])).toEqual(expect.arrayContaining([
      ['slow', 'failed'], ['side', 'failed'], ['after', 'skipped'],
    ]));
    // The workers' reports of the stopped tries came and went: the decision stands.
    await ticks(stack().scheduler.runner, 2);
    expect(await stack().repos.runs.get('cancel_me', run.runId)).toMatchObject({ state: 'failed', reason: 'cancelled by olga' });
    expect((await tisOf(run.pk)).get('slow')).toMatchObject({ state: 'failed', reason: 'run cancelled by olga' });
  }, 60_000);

  it('mark success on a running try: its process is stopped, the downstream runs, the run succeeds', async () => {
    const run = await stack().trigger('mark_me');
    await until('the long task runs', async () => (await tisOf(run.pk)).get('slow')?.state === 'running' && existsSync(pidFile('mark')));
    const pid = pidOf('mark');

    const res = await apiAs(app, token).post(`/api/v1/dags/mark_me/runs/${run.runId}/tasks/slow/mark`).send({ state: 'success' }).expect(200);
    expect(res.body.stopped).toEqual([{ taskId: 'slow', tryNumber: 1, sentTo: stack().workers[0].name }]);
    const { state, tis } = await stack().waitForRun(run, 20_000);
    expect(state).toBe('success');
    expect(tis.get('after')?.state).toBe('success');
    await until('the marked try\'s process is gone', async () => !alive(pid), 15_000);
    // Its worker reported the stopped try failed: ignored, the mark stands.
    await until('no worker runs a try', noTryRuns, 15_000);
    await ticks(stack().scheduler.runner, 2);
    expect((await tisOf(run.pk)).get('slow')).toMatchObject({ state: 'success', reason: 'marked success by olga' });
  }, 60_000);
});

// The same with a container task: cancelling the run leaves no container behind.
describeWithPostgres('run cancel with a container task', () => {
  describeWithDocker('run cancel with a container task', () => {
    const worker = `cancel-box-${randomBytes(4).toString('hex')}`;
    const stack = useStack({
      dagFiles: { 'cancel_box.yaml': `id: cancel_box\ntasks:\n  boxed: { docker: { image: ${TEST_IMAGE}, command: "echo started; sleep 300" } }\n` },
      workers: [{ name: worker }],
    });
    let app: INestApplication;
    let token: string;
    const docker = (...args: string[]) => spawnSync('/usr/bin/docker', args, { encoding: 'utf8' }).stdout.trim();
    const containersOf = (tiId: number) => docker('ps', '-a', '-q', '--filter', `label=swarmflow.worker=${worker}`, '--filter', `label=swarmflow.ti_id=${tiId}`);

    beforeAll(async () => {
      const s = stack();
      app = await createWebserver({ repos: s.repos, logger: false, broker: await s.broker(), clusterKey: s.clusterKey, onChange: () => s.scheduler.runner.nudge() });
      token = await createTestToken(s.repos, 'operator', 'olga');
    });
    afterAll(async () => {
      await app?.close();
      const left = docker('ps', '-a', '-q', '--filter', `label=swarmflow.worker=${worker}`);
      if (left) docker('rm', '-f', ...left.split('\n'));
    });

    it('stops and removes the running container; the run ends failed naming who', async () => {
      const run = await stack().trigger('cancel_box');
      let tiId = 0;
      await until('the container runs', async () => {
        const [ti] = await stack().repos.tis.forRuns([run.pk]);
        tiId = ti?.id ?? 0;
        return ti?.state === 'running' && containersOf(ti.id) !== '';
      }, 60_000);
      await apiAs(app, token).post(`/api/v1/dags/cancel_box/runs/${run.runId}/cancel`).expect(200);
      await until('the container is gone', async () => containersOf(tiId) === '', 30_000);
      await until('no worker runs a try', async () => stack().workers.every((w) => w.runningTasks().length === 0), 15_000);
      expect(await stack().repos.runs.get('cancel_box', run.runId)).toMatchObject({ state: 'failed', reason: 'cancelled by olga' });
      expect((await stack().repos.tis.forRuns([run.pk]))[0]).toMatchObject({ state: 'failed', reason: 'run cancelled by olga' });
    }, 90_000);
  });
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for `n` more scheduling iterations (a nudge starts the next one at once). */
async function ticks(runner: { iterations: number; nudge(): void }, n: number): Promise<void> {
  const target = runner.iterations + n;
  while (runner.iterations < target) {
    runner.nudge();
    await new Promise((r) => setTimeout(r, 20));
  }
}
