import type { Route } from 'playwright-core';
import type { RunDetailDto, TaskInstanceDetailDto } from '@swarmflow/contracts';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { adminApi, describeBrowser, screenshot, useStandalonePage } from './support/browser';
import { browserTestDags } from './support/dags';

// A container try's page: container id, image digest, GPU devices and runtime (from the
// try's stored result, or while it runs from its container's start), worker, exit code and
// reason. The API's answers for a GPU try are made up in the browser (page.route, typed as the
// API's DTOs): this machine has no GPU; the real paths (worker → task.finished → task_result →
// API, and worker → task.container_started → task_container → API while the try runs) are
// checked by apps/scheduler/src/image-digests.int-spec.ts and
// apps/webserver/src/try-container.stack.int-spec.ts with a real container. An earlier
// process try's worker and exit code are checked against the real stack (a standalone's worker).
jest.setTimeout(120_000);

const CONTAINER = 'f3a9c0de12b47a5e9d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2';
const DIGEST = 'registry.example/ml/train@sha256:4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899';
const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 9, 0, s)).toISOString();
const docker = {
  image: 'registry.example/ml/train:1.4', cpus: 4, memoryBytes: 8 * 1024 ** 3, gpus: 2, gpuMode: 'runtime', runtime: null, network: null,
};
const tryResult = (tryNumber: number, extra: object) => ({
  tryNumber, outputs: null, image: docker.image, imageDigest: DIGEST, cacheKey: null, cachedFrom: null, at: at(60 + tryNumber), ...extra,
});
const ti = {
  dagId: 'gpu_job', runId: 'r1', taskId: 'train', state: 'failed', tryNumber: 2, maxTries: 2, queue: 'gpu', pool: 'default_pool',
  worker: 'gpu-worker-1', hostname: 'gpu-host-a', exitCode: 137, reason: 'out of memory (limit 8589934592 bytes)',
  queuedAt: at(0), startedAt: at(2), endedAt: at(50), nextRetryAt: null, outputs: null, cachedFrom: null,
  history: [
    { tryNumber: 1, from: 'queued', to: 'running', reason: null, at: at(1) },
    { tryNumber: 1, from: 'running', to: 'up_for_retry', reason: 'exit code 1', at: at(1) },
    { tryNumber: 2, from: 'queued', to: 'running', reason: null, at: at(2) },
    { tryNumber: 2, from: 'running', to: 'failed', reason: 'out of memory (limit 8589934592 bytes)', at: at(50) },
  ],
  tries: [
    tryResult(2, { succeeded: false, containerId: CONTAINER, gpuDevices: ['0', '1'], runtime: 'nvidia' }),
    tryResult(1, { succeeded: false }),
  ],
};
const running = {
  ...ti, runId: 'r2', state: 'running', tryNumber: 1, exitCode: null, reason: null, endedAt: null,
  history: [{ tryNumber: 1, from: 'queued', to: 'running', reason: null, at: at(1) }],
  tries: [],
  containers: [{ tryNumber: 1, containerId: CONTAINER, worker: 'gpu-worker-1', image: docker.image, imageDigest: DIGEST, gpuDevices: ['1'], runtime: 'nvidia', startedAt: at(2) }],
};
// r3: two container tries on different workers; try 1 failed (exit code 1), try 2 succeeded.
// Each transition carries the worker and exit code the step left (as the API serves them).
const none = { worker: null, hostname: null, pid: null, exitCode: null };
const onW1 = { worker: 'gpu-worker-1', hostname: 'gpu-host-a', pid: 4242 };
const onW2 = { worker: 'gpu-worker-2', hostname: 'gpu-host-b', pid: 77 };
const retried = {
  ...ti, runId: 'r3', state: 'success', tryNumber: 2, worker: 'gpu-worker-2', hostname: 'gpu-host-b', exitCode: 0, reason: null,
  queuedAt: at(20), startedAt: at(22), endedAt: at(52),
  history: [
    { tryNumber: 1, from: 'scheduled', to: 'queued', reason: null, at: at(3), ...none },
    { tryNumber: 1, from: 'queued', to: 'running', reason: null, at: at(5), ...onW1, exitCode: null },
    { tryNumber: 1, from: 'running', to: 'up_for_retry', reason: 'CUDA error', at: at(15), ...onW1, exitCode: 1 },
    { tryNumber: 2, from: 'up_for_retry', to: 'queued', reason: null, at: at(20), ...none },
    { tryNumber: 2, from: 'queued', to: 'running', reason: null, at: at(22), ...onW2, exitCode: null },
    { tryNumber: 2, from: 'running', to: 'success', reason: null, at: at(52), ...onW2, exitCode: 0 },
  ],
  tries: [
    tryResult(2, { succeeded: true, containerId: CONTAINER, gpuDevices: ['0'], runtime: 'nvidia' }),
    tryResult(1, { succeeded: false, containerId: CONTAINER.replace('f3', 'a1'), gpuDevices: ['1'], runtime: 'nvidia' }),
  ],
  containers: [
    { tryNumber: 2, containerId: CONTAINER, worker: 'gpu-worker-2', image: docker.image, imageDigest: DIGEST, gpuDevices: ['0'], runtime: 'nvidia', startedAt: at(22) },
    { tryNumber: 1, containerId: CONTAINER.replace('f3', 'a1'), worker: 'gpu-worker-1', image: docker.image, imageDigest: DIGEST, gpuDevices: ['1'], runtime: 'nvidia', startedAt: at(5) },
  ],
};
// r4: as r3, its transitions recorded before they kept a try's worker and exit code.
const recordedBefore = {
  ...retried, runId: 'r4',
  history: retried.history.map(({ tryNumber, from, to, reason, at: when }) => ({ tryNumber, from, to, reason, at: when })),
};
const dag = {
  dagId: 'gpu_job', fileloc: 'gpu_job.yaml', isPaused: false, isActive: true, schedule: null, latestVersion: 'v1', tags: [], description: null,
  lastRun: null, nextRun: null, importError: null, catchup: false, startDate: null, maxActiveRuns: 16, maxActiveTasks: 16, params: {},
  tasks: [{
    taskId: 'train', kind: 'docker', command: ['python', 'train.py'], docker, secrets: [], env: {}, cwd: null, upstream: [], triggerRule: 'all_success',
    retries: 1, retryDelayMs: 1000, retryBackoff: 'fixed', maxRetryDelayMs: 1000, timeoutMs: null, queue: 'gpu', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: null,
  }],
};
const json = (route: Route, body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
const sse = (route: Route, lines: string[]) => route.fulfill({
  status: 200, contentType: 'text/event-stream',
  body: `event: lines\ndata: ${JSON.stringify({ lines: lines.map((line) => ({ at: at(3), stream: 'stdout', line })) })}\n\nevent: end\ndata: {}\n\n`,
});

describeBrowser('web UI: a container try\'s page', () => {
  const ui = useStandalonePage({ dags: browserTestDags });

  beforeAll(async () => {
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r1/tasks/train', (route) => json(route, ti));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r1', (route) => json(route, { dagId: 'gpu_job', runId: 'r1', versionHash: 'v1' }));
    await ui.page.route('**/api/v1/dags/gpu_job/versions/v1', (route) => json(route, dag));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r1/tasks/train/logs/stream?try=2', (route) => sse(route, ['epoch 1/3', 'Killed']));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r1/tasks/train/logs/stream?try=1', (route) => sse(route, ['CUDA error, retrying']));
    // r2: its try runs; the container is known from its start, there is no result yet.
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r2/tasks/train', (route) => json(route, running));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r2', (route) => json(route, { dagId: 'gpu_job', runId: 'r2', versionHash: 'v1' }));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r2/tasks/train/logs/stream?try=1', (route) => sse(route, ['epoch 1/3']));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r3/tasks/train', (route) => json(route, retried));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r3', (route) => json(route, { dagId: 'gpu_job', runId: 'r3', versionHash: 'v1' }));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r3/tasks/train/logs/stream?try=2', (route) => sse(route, ['epoch 3/3']));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r3/tasks/train/logs/stream?try=1', (route) => sse(route, ['CUDA error, retrying']));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4/tasks/train', (route) => json(route, recordedBefore));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4', (route) => json(route, { dagId: 'gpu_job', runId: 'r4', versionHash: 'v1' }));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4/tasks/train/logs/stream?try=*', (route) => sse(route, ['CUDA error, retrying']));
  });

  it('shows the container id, image digest, GPU devices and runtime of the try, with its worker, exit code and reason', async () => {
    await ui.page.goto('/dags/gpu_job/runs/r1/tasks/train');
    const details = ui.page.getByTestId('task-details');
    await details.waitFor();
    const value = (term: string) => details.locator(`dt:text-is("${term}") + dd`);
    expect(await ui.page.getByTestId('container-id').textContent()).toBe(CONTAINER.slice(0, 12));
    expect(await ui.page.getByTestId('container-id').getAttribute('title')).toBe(CONTAINER);
    expect(await value('Image digest').textContent()).toBe(DIGEST);
    expect(await value('GPU devices').textContent()).toBe('0, 1');
    expect(await value('Runtime').textContent()).toBe('nvidia');
    expect(await value('Exit code').textContent()).toBe('137');
    expect(await value('Reason').textContent()).toBe('out of memory (limit 8589934592 bytes)');
    expect(await value('Worker').textContent()).toBe('gpu-worker-1 on gpu-host-a');
    expect(await value('Image').textContent()).toBe('registry.example/ml/train:1.4');
    await ui.page.getByText('Killed').waitFor();
    await screenshot(ui.page, 'task-container');

    // An earlier try: its own container details (none recorded here), said so.
    await ui.page.getByRole('link', { name: 'Try 1' }).click();
    await ui.page.getByText('CUDA error, retrying').waitFor();
    await value('Image digest').getByText(DIGEST).waitFor();
    expect(await ui.page.getByTestId('container-id').count()).toBe(0);
    await details.getByText('the latest is try 2', { exact: false }).waitFor();
  });

  it('shows an earlier try\'s own state, times, worker and reason, not the latest try\'s', async () => {
    await ui.page.goto('/dags/gpu_job/runs/r3/tasks/train');
    const details = ui.page.getByTestId('task-details');
    await details.waitFor();
    const value = (term: string) => details.locator(`dt:text-is("${term}") + dd`);
    expect(await value('Worker').textContent()).toBe('gpu-worker-2 on gpu-host-b');
    expect(await value('Exit code').textContent()).toBe('0');
    const latestStarted = await value('Started').textContent();

    await ui.page.getByRole('link', { name: 'Try 1' }).click();
    await ui.page.getByText('CUDA error, retrying').waitFor();
    expect(await value('Try').textContent()).toBe('1 of 2');
    expect(await value('State').locator('[data-state]').getAttribute('data-state')).toBe('up_for_retry');
    expect(await value('Worker').textContent()).toBe('gpu-worker-1 on gpu-host-a');
    expect(await value('Reason').textContent()).toBe('CUDA error');
    expect(await value('Exit code').textContent()).toBe('1');
    expect(await value('Started').locator('time').getAttribute('datetime')).toBe(at(5));
    expect(await value('Ended').locator('time').getAttribute('datetime')).toBe(at(15));
    expect(await value('Started').textContent()).not.toBe(latestStarted);
    expect(await value('Duration').textContent()).toBe('10 s');
    await details.getByText('the latest is try 2', { exact: false }).waitFor();
    await screenshot(ui.page, 'task-earlier-try');

    // Back to the latest: its own values again.
    await ui.page.getByRole('link', { name: 'Try 2 (latest)' }).click();
    await details.getByText('gpu-worker-2').waitFor();
    expect(await value('Exit code').textContent()).toBe('0');
    expect(await value('Reason').textContent()).toBe('—');
  });

  it('says so for an earlier try whose transitions were recorded before they kept its exit code and worker', async () => {
    await ui.page.goto('/dags/gpu_job/runs/r4/tasks/train?try=1');
    const details = ui.page.getByTestId('task-details');
    await details.getByText('the latest is try 2', { exact: false }).waitFor();
    const value = (term: string) => details.locator(`dt:text-is("${term}") + dd`);
    expect(await value('Exit code').textContent()).toBe('not recorded (the try ran before this version of Swarmflow)');
    // A container try's worker is known from its container all the same.
    expect(await value('Worker').textContent()).toBe('gpu-worker-1');
  });

  it('shows an earlier process try\'s exit code and worker, as the real worker and scheduler recorded them', async () => {
    // ui_flaky's flaky exits 3 on its first try; cleared, its second try succeeds.
    const { runId } = await adminApi<{ runId: string }>(ui.server, 'POST', '/dags/ui_flaky/runs', {});
    const stateOf = async () => (await adminApi<RunDetailDto>(ui.server, 'GET', `/dags/ui_flaky/runs/${runId}`)).taskInstances.find((t) => t.taskId === 'flaky')!;
    await waitUntil('flaky to fail its first try', async () => (await stateOf()).state === 'failed', { timeoutMs: 60_000, intervalMs: 100 });
    await adminApi(ui.server, 'POST', `/dags/ui_flaky/runs/${runId}/tasks/flaky/clear`, {});
    await waitUntil('flaky to succeed on try 2', async () => {
      const t = await stateOf();
      return t.state === 'success' && t.tryNumber === 2;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const api = await adminApi<TaskInstanceDetailDto>(ui.server, 'GET', `/dags/ui_flaky/runs/${runId}/tasks/flaky`);
    expect(api.worker).toBeTruthy();

    await ui.page.goto(`/dags/ui_flaky/runs/${runId}/tasks/flaky`);
    const details = ui.page.getByTestId('task-details');
    const value = (term: string) => details.locator(`dt:text-is("${term}") + dd`);
    await details.getByText(api.worker!).waitFor();
    expect(await value('Exit code').textContent()).toBe('0');
    // One worker ran both tries (a quick try reports no start, so its hostname may be unknown).
    const latestWorker = await value('Worker').textContent();
    expect(latestWorker).toBe(api.hostname ? `${api.worker} on ${api.hostname}` : api.worker);

    await ui.page.getByRole('link', { name: 'Try 1' }).click();
    await details.getByText('the latest is try 2', { exact: false }).waitFor();
    expect(await value('State').locator('[data-state]').getAttribute('data-state')).toBe('failed');
    expect(await value('Exit code').textContent()).toBe('3');
    // Its end's reason, not the clear that followed it (the try's last transition with a reason).
    const end = api.history.find((h) => h.tryNumber === 1 && h.from === 'running')!;
    expect(api.history.filter((h) => h.tryNumber === 1 && h.reason !== null).at(-1)).toMatchObject({ from: 'failed', to: 'none', reason: 'cleared' });
    expect(end.reason).not.toBe('cleared');
    expect(await value('Reason').textContent()).toBe(end.reason ?? '—');
    expect(await value('Worker').textContent()).toBe(latestWorker);
    expect(await value('Worker').getByRole('link').getAttribute('href')).toBe(`/workers/${encodeURIComponent(api.worker!)}`);
    await screenshot(ui.page, 'task-earlier-process-try');
  });

  it('shows a running try\'s container from its start, before the try ends', async () => {
    await ui.page.goto('/dags/gpu_job/runs/r2/tasks/train');
    const details = ui.page.getByTestId('task-details');
    await details.waitFor();
    const value = (term: string) => details.locator(`dt:text-is("${term}") + dd`);
    expect(await ui.page.getByTestId('container-id').textContent()).toBe(CONTAINER.slice(0, 12));
    expect(await value('Image digest').textContent()).toBe(DIGEST);
    expect(await value('GPU devices').textContent()).toBe('1');
    expect(await value('Runtime').textContent()).toBe('nvidia');
    expect(await value('Ended').textContent()).toBe('—');
    expect(await details.getByText('shown once its container has started').count()).toBe(0);
  });

  it('shows what the try left: the image it ran with its digest, its outputs and artefacts; the run page its image version set', async () => {
    const outputs = { accuracy: 0.91, model: 'm7' };
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4/tasks/train', (route) => json(route, {
      ...retried, runId: 'r4', outputs, tries: [tryResult(2, { succeeded: true, outputs, containerId: CONTAINER }), tryResult(1, { succeeded: false })],
    }));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4/tasks/train/logs/stream?try=2', (route) => sse(route, ['epoch 3/3']));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4/tasks/train/artifacts', (route) => json(route, {
      dagId: 'gpu_job', runId: 'r4', taskId: 'train', tryNumber: 2, url: 's3://bucket/gpu_job/r4/train/try-2/', cachedFrom: null,
      artifacts: [
        { name: 'model.pt', size: 3 * 1024 ** 2, modifiedAt: at(52), url: 's3://bucket/gpu_job/r4/train/try-2/model.pt' },
        { name: 'metrics.json', size: 312, modifiedAt: at(52), url: 's3://bucket/gpu_job/r4/train/try-2/metrics.json' },
      ],
    }));
    await ui.page.route('**/api/v1/dags/gpu_job/runs/r4', (route) => json(route, {
      dagId: 'gpu_job', runId: 'r4', runType: 'manual', state: 'success', logicalDate: at(0), conf: {}, params: {}, versionHash: 'v1', createdAt: at(0),
      startedAt: at(1), endedAt: at(53), reason: null, cacheForce: null,
      taskInstances: [{ ...retried, runId: 'r4', outputs, cachedFrom: null }],
      images: [{ image: docker.image, digest: DIGEST }],
    }));
    await ui.page.goto('/dags/gpu_job/runs/r4/tasks/train');
    const details = ui.page.getByTestId('task-details');
    await details.waitFor();
    expect(await details.locator('dt:text-is("Image ran") + dd').textContent()).toBe(docker.image);
    expect(await details.locator('dt:text-is("Image digest") + dd').textContent()).toBe(DIGEST);
    expect(JSON.parse((await ui.page.getByTestId('try-outputs').textContent())!)).toEqual(outputs);
    const artifacts = ui.page.getByTestId('try-artifacts');
    await artifacts.getByText('model.pt').waitFor();
    expect((await artifacts.locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim())).toEqual(['model.pt 3.0 MiB', 'metrics.json 312 B']);
    expect(await ui.page.getByTestId('cached-from').count()).toBe(0);
    await screenshot(ui.page, 'task-results');

    await ui.page.goto('/dags/gpu_job/runs/r4');
    const images = ui.page.getByTestId('run-images');
    await images.waitFor();
    expect((await images.textContent())!.replace(/\s+/g, ' ').trim()).toBe(`${docker.image} ${DIGEST}`);
  });
});
