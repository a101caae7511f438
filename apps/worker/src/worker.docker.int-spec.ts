import type { DockerSpec, TaskMessage } from '@swarmflow/core';
import { DEFAULT_CONTAINER_POLICY, installationOf, LABELS } from '@swarmflow/executors';
import { describeWithDocker, dockerSpec, handedOverContainer } from '@swarmflow/executors/test-support/docker';
import { EXCHANGES } from '@swarmflow/messaging';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { ClusterKey } from '@swarmflow/secrets';
import { withSecrets, startHarness, taskMessage, type Harness } from './test-support/worker-harness';
import type { WorkerOptions } from './worker.service';

describeWithDocker('worker running container tasks (real Docker engine)', (ctx) => {
  jest.setTimeout(60_000);
  const key = ClusterKey.generate();
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  async function harness(options: Partial<WorkerOptions> = {}): Promise<Harness> {
    h = await startHarness({ name: `w-${ctx.id}`, graceMs: 1000, concurrency: 2, ...options }, { docker: ctx.executor, clusterKey: key });
    return h;
  }

  function containerTask(command: string | string[], docker: Partial<DockerSpec> = {}, overrides: Partial<TaskMessage> = {}): TaskMessage {
    return taskMessage({ kind: 'docker', command, docker: dockerSpec({ labels: { ...ctx.labels }, ...docker }), ...overrides });
  }

  async function leftovers(tiId: number): Promise<{ containers: string[]; volumes: string[] }> {
    const labels = { ...ctx.labels, [LABELS.tiId]: String(tiId) };
    return {
      containers: (await ctx.client.listContainers(labels)).map((c) => c.name),
      volumes: (await ctx.client.listVolumes(labels)).map((v) => v.name),
    };
  }

  const output = (tiId: number): string[] => h.published.logLines(tiId).filter((l) => l.stream !== 'system').map((l) => l.line);

  it('streams stdout and stderr to the task log and reports exit codes 0, 3 and 99 (skip)', async () => {
    await harness({ concurrency: 3 });
    const tasks = [0, 3, 99].map((code) => containerTask(`echo out-${code}; echo err-${code} >&2; exit ${code}`, {}, { skipExitCode: 99 }));
    await h.submit(...tasks);
    const finished = await Promise.all(tasks.map((t) => h.published.finishedOf(t.tiId, 1, 20_000)));
    expect(finished.map((f) => [f.outcome, f.exitCode, f.reason])).toEqual([['success', 0, null], ['failed', 3, null], ['skipped', 99, null]]);
    for (const [i, code] of [0, 3, 99].entries()) {
      expect(h.published.logLines(tasks[i].tiId)).toEqual(expect.arrayContaining([
        { stream: 'stdout', line: `out-${code}` }, { stream: 'stderr', line: `err-${code}` },
        { stream: 'system', line: expect.stringMatching(new RegExp(`^try 1 of dag1.task1 \\(run manual__2024-01-01\\) started on w-${ctx.id} in a container of swarmflow/busybox:test$`)) },
        { stream: 'system', line: expect.stringMatching(/^container [0-9a-f]{12} started \(image swarmflow\/busybox:test\)$/) },
      ]));
      expect(finished[i].logTail).toEqual(expect.arrayContaining([`out-${code}`, `err-${code}`]));
      expect(await leftovers(tasks[i].tiId)).toEqual({ containers: [], volumes: [] });
    }
  });

  it('mounts a secret read-only, masks it in the published log, and removes its volume', async () => {
    await harness();
    const task = withSecrets(containerTask(
      'cat /secrets/variables/db_password; echo; [ "$(cat /secrets/variables/db_password)" = "hunter2-s3cr3t" ] && echo content-matches; ' +
      '(echo x > /secrets/variables/db_password) 2>/dev/null || echo read-only; echo "env: $DB_URL"',
      { user: '65534' },
      { env: { DB_URL: 'postgres://app:hunter2-s3cr3t@db' } },
    ), { db_password: 'hunter2-s3cr3t' }, key);
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId, 1, 20_000);
    expect(finished).toMatchObject({ outcome: 'success', exitCode: 0 });
    expect(output(task.tiId)).toEqual(['***', 'content-matches', 'read-only', 'env: postgres://app:***@db']);
    expect(JSON.stringify(h.published.all.filter((p) => p.exchange !== EXCHANGES.tasks))).not.toContain('hunter2-s3cr3t');
    expect(await leftovers(task.tiId)).toEqual({ containers: [], volumes: [] });
  });

  it('runs containers that cannot gain privileges, with a pids limit', async () => {
    await harness();
    const task = containerTask('grep NoNewPrivs /proc/self/status; cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max');
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId, 1, 20_000)).toMatchObject({ outcome: 'success' });
    expect(output(task.tiId).map((l) => l.replace(/\s+/g, ' '))).toEqual(['NoNewPrivs: 1', '4096']);
  });

  it('stops a container at its timeout', async () => {
    await harness();
    const task = containerTask('echo up; sleep 30', {}, { timeoutMs: 500 });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId, 1, 20_000);
    expect(finished).toMatchObject({ outcome: 'failed', exitCode: 137, signal: 'SIGKILL', reason: 'timeout after 0.5s', logTail: ['up'] });
    expect(h.published.logLines(task.tiId).map((l) => l.line)).toEqual(expect.arrayContaining([
      'timeout after 0.5s: SIGTERM sent to the container', 'still running 1s after SIGTERM: SIGKILL sent to the container',
    ]));
    expect(await leftovers(task.tiId)).toEqual({ containers: [], volumes: [] });
  });

  it('task.cancel stops the container; the try is not retried', async () => {
    // A grace no loaded machine misses: exit 143 then shows the task's TERM trap ran, not Docker's SIGKILL (137).
    await harness({ graceMs: 30_000 });
    const task = withSecrets(containerTask('trap "echo stopping; exit 143" TERM; echo up; while true; do sleep 0.1; done'), { k: 'v' }, key);
    await h.submit(task);
    await h.published.waitFor('the task\'s first line', () => output(task.tiId).includes('up'), 20_000);
    await h.control('worker.all', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 });
    const finished = await h.published.finishedOf(task.tiId, 1, 20_000);
    expect(finished).toMatchObject({ outcome: 'failed', exitCode: 143, signal: 'SIGTERM', reason: 'cancelled', retryable: false });
    expect(output(task.tiId)).toEqual(['up', 'stopping']);
    expect(await leftovers(task.tiId)).toEqual({ containers: [], volumes: [] });
  });

  it('keeps the container when autoRemove is false', async () => {
    await harness();
    const task = containerTask('echo kept', { autoRemove: false });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId, 1, 20_000)).toMatchObject({ outcome: 'success' });
    expect((await leftovers(task.tiId)).containers).toHaveLength(1);
  });

  it('fails clearly when the image is missing and the pull policy is never', async () => {
    await harness();
    const task = containerTask('true', { image: 'swarmflow/absent:1', pullPolicy: 'never' });
    await h.submit(task);
    expect(await h.published.finishedOf(task.tiId, 1, 20_000)).toMatchObject({
      outcome: 'failed', exitCode: null, reason: 'image "swarmflow/absent:1" is not present and pull policy is never',
    });
  });

  it('fails with Docker\'s reason for an unknown runtime (when the worker lets tasks pick any)', async () => {
    await harness({ containerPolicy: { ...DEFAULT_CONTAINER_POLICY, allowRuntimes: 'any' } });
    const task = containerTask('true', { runtime: 'no-such-runtime' });
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId, 1, 20_000);
    expect(finished).toMatchObject({ outcome: 'failed', exitCode: null });
    expect(finished.reason).toMatch(/[Uu]nknown.*no-such-runtime|no-such-runtime.*unknown/);
    expect(await leftovers(task.tiId)).toEqual({ containers: [], volumes: [] });
  });

  it('gives two concurrent GPU tasks different GPUs (nvidia runtime stand-in), and fails a 4-GPU task', async () => {
    await harness({ gpus: ['0', '1'], concurrency: 4 });
    const gpu = (): TaskMessage => containerTask('echo "gpu=$NVIDIA_VISIBLE_DEVICES"; sleep 1.5', { gpus: 1, gpuMode: 'runtime' });
    const [a, b, big] = [gpu(), gpu(), containerTask('true', { gpus: 4 })];
    await h.submit(a, b, big);
    expect(await h.published.finishedOf(big.tiId, 1, 20_000)).toMatchObject({
      outcome: 'failed', reason: `needs 4 GPUs, worker w-${ctx.id} has 2`, retryable: false,
    });
    const [fa, fb] = await Promise.all([h.published.finishedOf(a.tiId, 1, 20_000), h.published.finishedOf(b.tiId, 1, 20_000)]);
    expect([fa.outcome, fb.outcome]).toEqual(['success', 'success']);
    expect([...output(a.tiId), ...output(b.tiId)].sort()).toEqual(['gpu=0', 'gpu=1']);
    // Both ran at once: each started before either finished.
    const keys = h.published.all.filter((p) => p.body?.tiId === a.tiId || p.body?.tiId === b.tiId).map((p) => p.routingKey);
    expect(keys.filter((k) => k === 'task.started')).toHaveLength(2);
    expect(keys.lastIndexOf('task.started')).toBeLessThan(keys.indexOf('task.finished'));
    expect(h.worker.freeGpuIds()).toEqual(['0', '1']);
  });

  it('at start, re-adopts and reaps only the handed-over containers of its own installation (two installations, one engine)', async () => {
    const [mine, other] = [installationOf(`a-${ctx.id}.`), installationOf(`b-${ctx.id}.`)];
    const name = `inst-${ctx.id}`;
    const expiredTi = 800_000 + Math.floor(Math.random() * 10_000);
    // Nobody of that name comes for it, and its deadline passes.
    const deadline = Date.now() + 500;
    const expired = await handedOverContainer(ctx, { installation: mine, worker: `gone-${ctx.id}`, tiId: expiredTi }, deadline);
    // Waits for the next worker of `name` in its installation.
    const pending = await handedOverContainer(ctx, { installation: mine, worker: name, tiId: expiredTi + 1 }, Date.now() + 3_600_000);
    await waitUntil('the deadline to pass', async () => Date.now() > deadline, { timeoutMs: 10_000, intervalMs: 50 });
    const containers = async (): Promise<string[]> => (await ctx.client.listContainers(ctx.labels)).map((c) => c.id);

    // A worker of the same name in another installation leaves both alone.
    await harness({ name, installation: other });
    expect(h.worker.runningTasks()).toEqual([]);
    expect(h.logger.lines.join('\n')).not.toMatch(/not adopted in time/);
    expect(await containers()).toEqual(expect.arrayContaining([expired, pending]));
    await h.close();

    // One of its own installation reaps the expired one and adopts the pending one.
    await harness({ name, installation: mine });
    expect(h.logger.lines.join('\n')).toMatch(new RegExp(`stopped and removed container \\S+ \\(task instance ${expiredTi} try 1\\): handed over by a stopping worker and not adopted in time`));
    expect(await containers()).not.toContain(expired);
    expect(h.worker.runningTasks()).toEqual([{ tiId: expiredTi + 1, tryNumber: 1 }]);
  });

  it('after an upgrade, a worker with a broker prefix re-adopts its own containers made before the installation label', async () => {
    const name = `legacy-${ctx.id}`;
    const tiId = 810_000 + Math.floor(Math.random() * 10_000);
    // The old version of this worker handed it over as the rolling update stopped it.
    const legacy = await handedOverContainer(ctx, { installation: null, worker: name, tiId }, Date.now() + 3_600_000);
    expect((await ctx.client.listContainers(ctx.labels)).find((c) => c.id === legacy)?.labels[LABELS.installation]).toBeUndefined();
    // Another worker's unlabelled container is not its to take (adoption goes by worker name).
    const othersTi = tiId + 1;
    await handedOverContainer(ctx, { installation: null, worker: `${name}-other`, tiId: othersTi }, Date.now() + 3_600_000);
    await harness({ name, installation: installationOf(`p-${ctx.id}.`) });
    expect(h.worker.runningTasks()).toEqual([{ tiId, tryNumber: 1 }]);
  });
});

describeWithDocker('runTaskLocally of a container task (real Docker engine)', (ctx) => {
  it('runs it in a container and removes it', async () => {
    const { runTaskLocally } = await import('./run-local');
    const out: string[] = [];
    const task = taskMessage({ kind: 'docker', command: 'echo "in $SWARMFLOW_TASK_ID"; exit 3', docker: dockerSpec({ labels: { ...ctx.labels } }) });
    const result = await runTaskLocally(task, (l) => out.push(l), { docker: ctx.executor });
    expect(result).toEqual({ exitCode: 3, outcome: 'failed', reason: null });
    expect(out).toContain('in task1');
    expect(out.at(-1)).toMatch(/^\[swarmflow\] exited with code 3 after [\d.]+s: failed$/);
    expect(await ctx.client.listContainers({ ...ctx.labels, [LABELS.tiId]: String(task.tiId) })).toEqual([]);
  }, 30_000);
});
