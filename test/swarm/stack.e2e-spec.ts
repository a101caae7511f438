import { randomBytes } from 'node:crypto';
import { buildImages, docker, swarmState, TestStack, waitFor } from './support/stack';

// The Swarm deployment end to end, as README's "Deploy on Docker Swarm" runs it: images built
// offline (deploy/swarm/build-images.sh), the stack deployed under a random name on a random
// port, a DAG triggered through the published port, the gpu instance group scaled up for a
// `queue: gpu` task, a redeploy with a changed image tag while a 20-s container task runs
// (the old worker finishes it within its 2-min stop grace period), another one with a 6-s
// grace period (the old worker hands the container over and exits; the slot's next worker
// re-adopts it), and a teardown that leaves nothing behind. Needs an active Swarm manager (`docker swarm init
// --advertise-addr 127.0.0.1`, done by .ci/run), root, debootstrap, tini and busybox-static;
// skipped without them, except under CI=true where it fails.

const stack = new TestStack(`sfci${randomBytes(3).toString('hex')}`);

const state = { ready: false };
const available = swarmState();

describe('Docker Swarm stack (deploy/swarm)', () => {
  let images: Record<string, string> = {};
  let nodeId = '';
  let labelledNode = false;
  let redeployTag = '';
  let handoverTag = '';
  const timings: Record<string, number> = {};

  const api = (method: string, route: string, body?: unknown): Promise<any> => stack.api(method, route, body);
  const trigger = async (dagId: string, conf: Record<string, unknown> = {}): Promise<string> =>
    (await api('POST', `/dags/${dagId}/runs`, { conf })).runId;
  const runOf = (dagId: string, runId: string) => api('GET', `/dags/${dagId}/runs/${encodeURIComponent(runId)}`);
  const finished = (dagId: string, runId: string, timeoutMs: number) => waitFor(`run ${dagId} ${runId} to finish`, async () => {
    const r = await runOf(dagId, runId);
    return r.state === 'success' || r.state === 'failed' ? r : undefined;
  }, timeoutMs);
  const logLines = async (dagId: string, runId: string, taskId: string, tryNumber: number): Promise<{ lines: string[]; finished: boolean }> => {
    const lines: string[] = [];
    let cursor = 0;
    for (;;) {
      const page = await api('GET', `/dags/${dagId}/runs/${encodeURIComponent(runId)}/tasks/${taskId}/logs?try=${tryNumber}&cursor=${cursor}`);
      lines.push(...page.lines.map((l: { line: string }) => l.line));
      if (page.lines.length === 0 || page.cursor === cursor) return { lines, finished: page.finished };
      cursor = page.cursor;
    }
  };

  beforeAll(async () => {
    const swarm = await available;
    if (swarm !== 'active true') {
      if (process.env.CI === 'true') throw new Error(`a Swarm manager is required under CI=true, but this engine says: ${swarm}. Fix: docker swarm init --advertise-addr 127.0.0.1`);
      return;
    }
    let t = Date.now();
    images = await buildImages();
    timings.buildImagesSeconds = (Date.now() - t) / 1000;
    expect(Object.keys(images).sort()).toEqual(['POSTGRES_IMAGE', 'RABBITMQ_IMAGE', 'SWARMFLOW_GATEWAY_IMAGE', 'SWARMFLOW_IMAGE']);
    nodeId = (await docker(['info', '--format', '{{.Swarm.NodeID}}'])).trim();

    t = Date.now();
    // This test scales the groups by hand: no autoscaler (it has its own Swarm test).
    await stack.deploy({ ...images, SWARMFLOW_AUTOSCALER_REPLICAS: '0' });
    await waitFor('the stack to converge (API healthy, 2 schedulers, the default worker live, the examples parsed)', async () => {
      const replicas = await stack.replicas();
      // Thrown, not undefined: a timeout then says which services were not up.
      if (replicas.scheduler !== '2/2' || replicas['worker-default'] !== '1/1' || replicas.webserver !== '1/1') throw new Error(`replicas ${JSON.stringify(replicas)}`);
      if (!(await stack.healthy())) return undefined;
      await stack.login();
      const workers = await api('GET', '/workers');
      if (!workers.some((w: { name: string; state: string }) => w.name === `${stack.name}_worker-default.1` && w.state === 'active')) return undefined;
      const dags = await api('GET', '/dags');
      return ['fan_out_fan_in', 'gpu_queue', 'container_example'].every((id) => dags.some((d: { dagId: string }) => d.dagId === id)) || undefined;
    }, 240_000, 1000);
    timings.convergeSeconds = (Date.now() - t) / 1000;
    state.ready = true;
  }, 20 * 60_000);

  afterAll(async () => {
    if (!(await available).startsWith('active')) return;
    // Whatever a failed test left: the stack, its volumes, secrets, the redeploy tags, the node label.
    await stack.remove();
    if (redeployTag) await docker(['rmi', redeployTag]).catch(() => undefined);
    if (handoverTag) await docker(['rmi', handoverTag]).catch(() => undefined);
    if (labelledNode) await docker(['node', 'update', '--label-rm', 'swarmflow.group', nodeId]).catch(() => undefined);
    process.stdout.write(`swarm e2e timings: ${JSON.stringify(timings)}\n`);
  }, 5 * 60_000);

  const it_ = (name: string, fn: () => Promise<void>, timeoutMs: number) => it(name, async () => {
    if (!state.ready) {
      if (process.env.CI === 'true') throw new Error('the stack did not come up (see beforeAll)');
      console.warn(`skipped: ${await available} (a Swarm manager is needed: docker swarm init --advertise-addr 127.0.0.1)`);
      return;
    }
    await fn();
  }, timeoutMs);

  it_('runs an example DAG triggered through the published port', async () => {
    const runId = await trigger('fan_out_fan_in');
    const done = await finished('fan_out_fan_in', runId, 180_000);
    expect(done.taskInstances.filter((t: { state: string }) => t.state !== 'success')).toEqual([]);
    expect(done.state).toBe('success');
  }, 200_000);

  it_('runs a queue: gpu task only on the gpu group, after saying no worker serves the queue', async () => {
    const runId = await trigger('gpu_queue');
    const waiting = await waitFor('the gpu task to say why it waits', async () => {
      const ti = (await runOf('gpu_queue', runId)).taskInstances[0];
      return ti.state === 'queued' && ti.reason ? ti : undefined;
    }, 60_000);
    expect(waiting.reason).toMatch(/^no worker serves queue gpu \(live workers serve default\)/);

    await docker(['node', 'update', '--label-add', 'swarmflow.group=gpu', nodeId]);
    labelledNode = true;
    // A node without GPUs (this one) advertises no NVIDIA-GPU resource: drop the group's reservation to run it here.
    const advertised = await docker(['node', 'inspect', nodeId, '--format', '{{json .Description.Resources.GenericResources}}']);
    if (!advertised.includes('NVIDIA-GPU')) await docker(['service', 'update', '--detach', '--generic-resource-rm', 'NVIDIA-GPU', stack.service('worker-gpu')]);
    await docker(['service', 'scale', '--detach', `${stack.name}_worker-gpu=1`]);
    const done = await finished('gpu_queue', runId, 120_000);
    expect(done.state).toBe('success');
    expect(done.taskInstances[0].worker).toBe(`${stack.name}_worker-gpu.1`);
    const logs = await logLines('gpu_queue', runId, 'on_gpu_worker', 1);
    expect(logs.lines.join('\n')).toContain('ran on a worker of queue gpu');
  }, 200_000);

  it_('redeploys with a changed image tag while a 20-s container task runs: the try ends success, try 1, with its whole log', async () => {
    const runId = await trigger('container_example', { image: images.SWARMFLOW_IMAGE, seconds: 20 });
    await waitFor('the ticks container to be running and logging', async () => {
      const ti = (await runOf('container_example', runId)).taskInstances.find((t: { taskId: string }) => t.taskId === 'ticks');
      if (ti.state !== 'running') return undefined;
      return (await logLines('container_example', runId, 'ticks', 1)).lines.some((l) => l.includes('tick 2/20')) || undefined;
    }, 90_000, 500);
    const oldWorker = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack.name}_worker-default`])).trim();

    redeployTag = `${images.SWARMFLOW_IMAGE.split(':')[0]}:${images.SWARMFLOW_IMAGE.split(':')[1]}-${stack.name}`;
    await docker(['tag', images.SWARMFLOW_IMAGE, redeployTag]);
    // The old worker keeps its task's 2-min stop grace period (and finishes the task); its successor gets 6 s, for the next test.
    const t = Date.now();
    await stack.redeploy({ SWARMFLOW_IMAGE: redeployTag, SWARMFLOW_WORKER_STOP_GRACE: '6s' });

    const done = await finished('container_example', runId, 180_000);
    const ticks = done.taskInstances.find((t2: { taskId: string }) => t2.taskId === 'ticks');
    expect({ state: ticks.state, tryNumber: ticks.tryNumber }).toEqual({ state: 'success', tryNumber: 1 });
    expect(done.state).toBe('success');
    const logs = await waitFor('the ticks log to be complete', async () => {
      const l = await logLines('container_example', runId, 'ticks', 1);
      return l.lines.some((x) => x.includes('ticks done')) ? l : undefined;
    }, 30_000);
    for (let i = 1; i <= 20; i++) expect(logs.lines.filter((l) => l.includes(`tick ${i}/20`))).toHaveLength(1);

    // The worker was replaced by one of the new tag, under the same slot name.
    await waitFor('the default worker to run the new tag', async () => {
      const image = (await docker(['service', 'inspect', stack.service('worker-default'), '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])).trim();
      const current = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack.name}_worker-default`])).trim();
      return image === redeployTag && current !== '' && current !== oldWorker ? true : undefined;
    }, 180_000);
    await waitFor('the new worker to heartbeat under the slot name', async () => {
      const workers = await api('GET', '/workers');
      return workers.some((w: { name: string; state: string }) => w.name === `${stack.name}_worker-default.1` && w.state === 'active') || undefined;
    }, 60_000);
    timings.redeploySeconds = (Date.now() - t) / 1000;
  }, 400_000);

  it_('redeploys with a stop grace period shorter than a running container task: the old worker hands it over and exits, the slot\'s next worker re-adopts it; success, try 1, every line once in order', async () => {
    const runId = await trigger('container_example', { image: images.SWARMFLOW_IMAGE, seconds: 20 });
    await waitFor('the ticks container to be running and logging', async () => {
      const ti = (await runOf('container_example', runId)).taskInstances.find((t: { taskId: string }) => t.taskId === 'ticks');
      if (ti.state !== 'running') return undefined;
      return (await logLines('container_example', runId, 'ticks', 1)).lines.some((l) => l.includes('tick 2/20')) || undefined;
    }, 90_000, 500);
    const slot = `${stack.name}_worker-default.1`;
    const oldWorker = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack.name}_worker-default`])).trim();
    expect(oldWorker).not.toBe('');

    // The running worker has 6 s of stop grace (the previous redeploy; it hands over 1.5 s before
    // that runs out). A new tag replaces it mid-task.
    expect((await docker(['inspect', '-f', '{{.Config.Env}}', oldWorker]))).toContain('SWARMFLOW_WORKER_STOP_GRACE=6s');
    handoverTag = `${images.SWARMFLOW_IMAGE.split(':')[0]}:${images.SWARMFLOW_IMAGE.split(':')[1]}-${stack.name}-h`;
    await docker(['tag', images.SWARMFLOW_IMAGE, handoverTag]);
    const t = Date.now();
    await stack.redeploy({ SWARMFLOW_IMAGE: handoverTag });

    // The old worker exits by itself (0, not killed) while the task's container runs on, renamed with its log mark.
    const exited = await waitFor('the old worker to exit', async () => {
      const state = (await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', oldWorker])).trim();
      if (!state.startsWith('exited')) return undefined;
      const task = (await docker(['ps', '--filter', `label=swarmflow.worker=${slot}`, '--filter', 'label=swarmflow.role=task', '--format', '{{.Names}}'])).trim();
      return { state, task };
    }, 120_000, 250);
    expect(exited.state).toBe('exited 0');
    expect(exited.task).toMatch(/-handoff-s\d+-n\d+-u\d+$/);

    const done = await finished('container_example', runId, 180_000);
    const ticks = done.taskInstances.find((t2: { taskId: string }) => t2.taskId === 'ticks');
    expect({ state: ticks.state, tryNumber: ticks.tryNumber, worker: ticks.worker }).toEqual({ state: 'success', tryNumber: 1, worker: slot });
    expect(done.state).toBe('success');
    const logs = await waitFor('the ticks log to be complete', async () => {
      const l = await logLines('container_example', runId, 'ticks', 1);
      return l.lines.some((x) => x.includes('ticks done')) ? l : undefined;
    }, 30_000);
    const printed = logs.lines.filter((l) => /^tick \d+\/20$|^ticks done$/.test(l));
    expect(printed).toEqual([...Array.from({ length: 20 }, (_, i) => `tick ${i + 1}/20`), 'ticks done']);
    const system = logs.lines.join('\n');
    expect(system).toContain(`the next worker named ${slot} follows it on`);
    expect(system).toContain(`worker ${slot} restarted: re-adopted container`);
    timings.handoverRedeploySeconds = (Date.now() - t) / 1000;
  }, 400_000);

  it_('tears down, leaving no container, network, volume, config or secret', async () => {
    const t = Date.now();
    // Workers first, while the broker is up (TestStack.remove): a stopping worker whose broker is
    // gone waits for it until its stop_grace_period (2m) runs out.
    const leftovers = await stack.remove();
    timings.teardownSeconds = (Date.now() - t) / 1000;
    expect(leftovers).toEqual({ services: '', containers: '', volumes: '', configs: '', secrets: '', networks: '' });
  }, 300_000);
});
