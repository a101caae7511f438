import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { TaskInstanceDetailDto } from '@swarmflow/contracts';
import { describeWithDocker, TEST_IMAGE } from '@swarmflow/executors/test-support/docker';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from '../../scheduler/src/test-support/use-stack';
import { apiAs, createTestToken } from './test-support/auth';
import { createWebserver } from './webserver';

// A container try's container (id, image digest, GPU devices, runtime) is readable through
// GET …/tasks/:task while the try runs: the worker reports it once the container started
// (`task.container_started`), not only with the try's end. A real scheduler, worker and Docker.
describeWithPostgres('container details of a running try (Postgres, Docker)', () => {
  describeWithDocker('container details of a running try', () => {
    const worker = `try-box-${randomBytes(4).toString('hex')}`;
    const stack = useStack({
      dagFiles: { 'try_box.yaml': `id: try_box\ntasks:\n  boxed: { docker: { image: ${TEST_IMAGE}, command: "echo started; sleep 300" } }\n` },
      workers: [{ name: worker }],
    });
    let app: INestApplication;
    let viewer: string;
    let operator: string;
    const docker = (...args: string[]) => spawnSync('/usr/bin/docker', args, { encoding: 'utf8' }).stdout.trim();

    beforeAll(async () => {
      const s = stack();
      app = await createWebserver({ repos: s.repos, logger: false, broker: await s.broker(), clusterKey: s.clusterKey, onChange: () => s.scheduler.runner.nudge() });
      viewer = await createTestToken(s.repos, 'viewer', 'vera');
      operator = await createTestToken(s.repos, 'operator', 'olga');
    });
    afterAll(async () => {
      await app?.close();
      const left = docker('ps', '-a', '-q', '--filter', `label=swarmflow.worker=${worker}`);
      if (left) docker('rm', '-f', ...left.split('\n'));
    });

    it('GET …/tasks/:task names the running container before the try ends, and the same one after', async () => {
      const run = await stack().trigger('try_box');
      const url = `/api/v1/dags/try_box/runs/${run.runId}/tasks/boxed`;
      const read = async () => (await apiAs(app, viewer).get(url).expect(200)).body as TaskInstanceDetailDto;
      let running!: TaskInstanceDetailDto;
      await until('the API shows the running try\'s container', async () => {
        const res = await apiAs(app, viewer).get(url);
        if (res.status === 404) return false; // the run's task instances are not created yet
        running = res.body as TaskInstanceDetailDto;
        return running.state === 'running' && (running.containers?.length ?? 0) > 0;
      }, 60_000);
      // The try has not ended: no result yet, the container comes from its start.
      expect(running.tries).toEqual([]);
      expect(running.endedAt).toBeNull();
      const imageId = docker('image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE);
      expect(running.containers).toEqual([{
        tryNumber: 1, containerId: expect.stringMatching(/^[0-9a-f]{64}$/), worker, image: TEST_IMAGE, imageDigest: imageId,
        gpuDevices: [], runtime: null, startedAt: expect.any(String),
      }]);
      const containerId = running.containers![0]!.containerId;
      // It is the container that runs the try, now.
      expect(docker('inspect', '--format', '{{.State.Running}} {{.Image}} {{index .Config.Labels "swarmflow.ti_id"}}', containerId))
        .toBe(`true ${imageId} ${(await stack().repos.tis.forRuns([run.pk]))[0]!.id}`);

      // Its end reports the same container with the try's result.
      await apiAs(app, operator).post(`${url}/kill`).expect(202);
      const ended = await stack().waitForRun(run, 60_000);
      expect(ended.tis.get('boxed')?.state).toBe('failed');
      const after = await read();
      expect(after.tries[0]).toMatchObject({ tryNumber: 1, containerId, imageDigest: imageId, gpuDevices: [], runtime: null });
      expect(after.containers?.map((c) => c.containerId)).toEqual([containerId]);
    }, 120_000);

    it('a recorded container stamps its try\'s task instance for the live feed (an open try page reloads); a second report changes nothing', async () => {
      const { repos } = stack();
      const [run] = await repos.runs.list({ dagId: 'try_box', limit: 1 });
      const [ti] = await repos.tis.forRuns([run!.pk]);
      const row = (await repos.containers.forTaskInstance(ti!.id))[0]!;
      await repos.db.query(`DELETE FROM task_container WHERE ti_id = $1`, [ti!.id]);
      const before = await repos.changes.start();
      const stamp = async () => (await repos.changes.read(before)).tis.find((t) => t.tiId === ti!.id)?.xid;
      await repos.containers.record([row]);
      const stamped = await stamp();
      expect(stamped).toBeDefined();
      expect(await repos.containers.forTaskInstance(ti!.id)).toEqual([row]);
      // The same try reported again (a redelivery): the row stays, the task instance keeps its stamp.
      await repos.containers.record([{ ...row, containerId: 'f'.repeat(64) }]);
      expect(await stamp()).toBe(stamped);
      expect(await repos.containers.forTaskInstance(ti!.id)).toEqual([row]);
    });
  });
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
