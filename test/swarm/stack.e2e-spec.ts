import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

// The Swarm deployment end to end, as README's "Deploy on Docker Swarm" runs it: images built
// offline (deploy/swarm/build-images.sh), the stack deployed under a random name on a random
// port, a DAG triggered through the published port, the gpu instance group scaled up for a
// `queue: gpu` task, a redeploy with a changed image tag while a 20-s container task runs
// (the old worker finishes it within its 2-min stop grace period), another one with a 6-s
// grace period (the old worker hands the container over and exits; the slot's next worker
// re-adopts it), and a teardown that leaves nothing behind. Needs an active Swarm manager (`docker swarm init
// --advertise-addr 127.0.0.1`, done by .ci/run), root, debootstrap, tini and busybox-static;
// skipped without them, except under CI=true where it fails.

const run = promisify(execFile);
const DOCKER = '/usr/bin/docker';
const REPO = path.resolve(__dirname, '../..');
const STACK_FILE = path.join(REPO, 'deploy/swarm/stack.yml');
const stack = `sfci${randomBytes(3).toString('hex')}`;
const secretNames = ['cluster_key', 'db_password', 'rabbitmq_password', 'admin_password'].map((s) => `${stack}_${s}`);

async function docker(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  if (options.input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = execFile(DOCKER, args, { env: options.env ?? process.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout));
      child.stdin!.end(options.input);
    });
  }
  try {
    const { stdout } = await run(DOCKER, args, { env: options.env ?? process.env, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    throw new Error(`docker ${args.join(' ')}: ${(err as { stderr?: string }).stderr || (err as Error).message}`);
  }
}

async function swarmState(): Promise<string> {
  try {
    return (await run(DOCKER, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).stdout.trim();
  } catch (err) {
    return `no Docker engine (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` and the last error after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

const state = { ready: false };
const available = swarmState();

describe('Docker Swarm stack (deploy/swarm)', () => {
  let env: NodeJS.ProcessEnv;
  let base = '';
  let token = '';
  let images: Record<string, string> = {};
  let nodeId = '';
  let labelledNode = false;
  let redeployTag = '';
  let handoverTag = '';
  const timings: Record<string, number> = {};

  const api = async (method: string, route: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}/api/v1${route}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
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
  const serviceReplicas = async (): Promise<Record<string, string>> => {
    const out = await docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Name}} {{.Replicas}}']);
    return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ')).map(([n, r]) => [n.slice(stack.length + 1), r]));
  };
  const deploy = async (): Promise<void> => {
    await docker(['stack', 'deploy', '--resolve-image', 'never', '-c', STACK_FILE, stack], { env });
  };

  beforeAll(async () => {
    const swarm = await available;
    if (swarm !== 'active true') {
      if (process.env.CI === 'true') throw new Error(`a Swarm manager is required under CI=true, but this engine says: ${swarm}. Fix: docker swarm init --advertise-addr 127.0.0.1`);
      return;
    }
    let t = Date.now();
    const { stdout } = await run('bash', [path.join(REPO, 'deploy/swarm/build-images.sh')], { cwd: REPO, maxBuffer: 16 << 20 });
    timings.buildImagesSeconds = (Date.now() - t) / 1000;
    images = Object.fromEntries([...stdout.matchAll(/(\w+_IMAGE)=(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(Object.keys(images).sort()).toEqual(['POSTGRES_IMAGE', 'RABBITMQ_IMAGE', 'SWARMFLOW_IMAGE']);

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // No IPVS in the kernel (some VMs): Swarm's routing mesh cannot work, so the port is published on the host.
    const ipvs = existsSync('/proc/net/ip_vs');
    env = {
      ...process.env, ...images, SWARMFLOW_PORT: String(port), SWARMFLOW_SECRET_PREFIX: stack,
      // This test scales the groups by hand: no autoscaler (its own Swarm test is to come).
      SWARMFLOW_STACK: stack, SWARMFLOW_AUTOSCALER_REPLICAS: '0',
      ...(ipvs ? {} : { SWARMFLOW_PORT_MODE: 'host', SWARMFLOW_WEB_UPDATE_ORDER: 'stop-first' }),
    };
    const adminPassword = randomBytes(12).toString('hex');
    const values = [randomBytes(32).toString('base64'), randomBytes(16).toString('hex'), randomBytes(16).toString('hex'), adminPassword];
    for (const [i, name] of secretNames.entries()) {
      await docker(['secret', 'create', '--label', `swarmflow.test=${stack}`, name, '-'], { input: values[i] });
    }
    nodeId = (await docker(['info', '--format', '{{.Swarm.NodeID}}'])).trim();

    t = Date.now();
    await deploy();
    await waitFor('the stack to converge (API healthy, 2 schedulers, the default worker live, the examples parsed)', async () => {
      const replicas = await serviceReplicas();
      // Thrown, not undefined: a timeout then says which services were not up.
      if (replicas.scheduler !== '2/2' || replicas['worker-default'] !== '1/1' || replicas.webserver !== '1/1') throw new Error(`replicas ${JSON.stringify(replicas)}`);
      const health = (await (await fetch(`${base}/api/v1/health`)).json()) as { status: string };
      if (health.status !== 'ok') return undefined;
      if (!token) {
        const web = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_webserver`])).trim().split('\n')[0];
        token = (await docker(['exec', web, 'swarmflow', 'tokens', 'create', '--name', 'ci', '--user', 'admin', '--database'])).trim();
      }
      const workers = await api('GET', '/workers');
      if (!workers.some((w: { name: string; state: string }) => w.name === `${stack}_worker-default.1` && w.state === 'active')) return undefined;
      const dags = await api('GET', '/dags');
      return ['fan_out_fan_in', 'gpu_queue', 'container_example'].every((id) => dags.some((d: { dagId: string }) => d.dagId === id)) || undefined;
    }, 240_000, 1000);
    timings.convergeSeconds = (Date.now() - t) / 1000;
    state.ready = true;
  }, 20 * 60_000);

  afterAll(async () => {
    if (!(await available).startsWith('active')) return;
    // Whatever a failed test left: the stack, its volumes, secrets, the redeploy tag, the node label.
    await docker(['stack', 'rm', stack]).catch(() => undefined);
    await waitFor('the stack\'s containers and network to go', async () => {
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`]);
      const nets = await docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`]);
      return left.trim() === '' && nets.trim() === '' ? true : undefined;
    }, 120_000).catch(() => undefined);
    for (const volume of ['postgres', 'rabbitmq']) await docker(['volume', 'rm', `${stack}_${volume}`]).catch(() => undefined);
    for (const name of secretNames) await docker(['secret', 'rm', name]).catch(() => undefined);
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
    if (!advertised.includes('NVIDIA-GPU')) await docker(['service', 'update', '--detach', '--generic-resource-rm', 'NVIDIA-GPU', `${stack}_worker-gpu`]);
    await docker(['service', 'scale', '--detach', `${stack}_worker-gpu=1`]);
    const done = await finished('gpu_queue', runId, 120_000);
    expect(done.state).toBe('success');
    expect(done.taskInstances[0].worker).toBe(`${stack}_worker-gpu.1`);
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
    const oldWorker = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_worker-default`])).trim();

    redeployTag = `${images.SWARMFLOW_IMAGE.split(':')[0]}:${images.SWARMFLOW_IMAGE.split(':')[1]}-${stack}`;
    await docker(['tag', images.SWARMFLOW_IMAGE, redeployTag]);
    // The old worker keeps its task's 2-min stop grace period (and finishes the task); its successor gets 6 s, for the next test.
    env = { ...env, SWARMFLOW_IMAGE: redeployTag, SWARMFLOW_WORKER_STOP_GRACE: '6s' };
    const t = Date.now();
    await deploy();

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
      const image = (await docker(['service', 'inspect', `${stack}_worker-default`, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])).trim();
      const current = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_worker-default`])).trim();
      return image === redeployTag && current !== '' && current !== oldWorker ? true : undefined;
    }, 180_000);
    await waitFor('the new worker to heartbeat under the slot name', async () => {
      const workers = await api('GET', '/workers');
      return workers.some((w: { name: string; state: string }) => w.name === `${stack}_worker-default.1` && w.state === 'active') || undefined;
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
    const slot = `${stack}_worker-default.1`;
    const oldWorker = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_worker-default`])).trim();
    expect(oldWorker).not.toBe('');

    // The running worker has 6 s of stop grace (the previous redeploy; it hands over 1.5 s before
    // that runs out). A new tag replaces it mid-task.
    expect((await docker(['inspect', '-f', '{{.Config.Env}}', oldWorker]))).toContain('SWARMFLOW_WORKER_STOP_GRACE=6s');
    handoverTag = `${images.SWARMFLOW_IMAGE.split(':')[0]}:${images.SWARMFLOW_IMAGE.split(':')[1]}-${stack}-h`;
    await docker(['tag', images.SWARMFLOW_IMAGE, handoverTag]);
    env = { ...env, SWARMFLOW_IMAGE: handoverTag };
    const t = Date.now();
    await deploy();

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
    // Workers first, while the broker is up: a stopping worker whose broker is gone waits for it
    // until its stop_grace_period (2m) runs out.
    await docker(['service', 'scale', `${stack}_worker-default=0`, `${stack}_worker-gpu=0`]);
    await docker(['stack', 'rm', stack]);
    await waitFor('the stack\'s containers and network to go', async () => {
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`]);
      const nets = await docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`]);
      return left.trim() === '' && nets.trim() === '' ? true : undefined;
    }, 240_000);
    timings.teardownSeconds = (Date.now() - t) / 1000;
    await docker(['volume', 'rm', `${stack}_postgres`, `${stack}_rabbitmq`]);
    for (const name of secretNames) await docker(['secret', 'rm', name]);
    const leftovers = {
      services: (await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])).trim(),
      containers: (await docker(['ps', '-aq', '--filter', `name=${stack}`])).trim(),
      volumes: (await docker(['volume', 'ls', '-q', '--filter', `name=${stack}`])).trim(),
      configs: (await docker(['config', 'ls', '-q', '--filter', `name=${stack}`])).trim(),
      secrets: (await docker(['secret', 'ls', '-q', '--filter', `name=${stack}`])).trim(),
      networks: (await docker(['network', 'ls', '-q', '--filter', `name=${stack}`])).trim(),
    };
    expect(leftovers).toEqual({ services: '', containers: '', volumes: '', configs: '', secrets: '', networks: '' });
  }, 300_000);
});
