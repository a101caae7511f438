import { buildImages, docker, swarmState, TestStack, waitFor } from './support/stack';

// Webserver updates fail no request (issue 14): the stack's published port is held by the
// gateway, which sends each request to a webserver task found by DNS; the webserver updates
// start-first and drains on SIGTERM (SWARMFLOW_WEB_DRAIN). On this kernel there is no IPVS, so
// this runs the host-mode variant, the one Swarm's routing mesh cannot help.
// Requests run without pause from before each update until after it, GETs and PUTs (a PUT is
// never sent twice by the gateway, so it must never meet a closed port).

const CI = process.env.CI === 'true';
const DEPLOY_MS = 480_000;

interface Tally { ok: number; failed: string[] }

async function until(stack: TestStack, what: string, done: () => Promise<boolean>, tally: Tally): Promise<void> {
  let running = true;
  let i = 0;
  const worker = async () => {
    while (running) {
      i++;
      const n = i;
      try {
        if (n % 3 === 0) await stack.api('PUT', '/variables/web_update_probe', { value: `v${n}` });
        else if (n % 3 === 1) await stack.api('GET', '/dags?limit=5');
        else if (!(await stack.healthy())) throw new Error('health not ok');
        tally.ok++;
      } catch (err) {
        tally.failed.push(`${n}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  };
  const load = [worker(), worker()];
  try {
    await waitFor(what, async () => ((await done()) ? true : undefined), DEPLOY_MS);
  } finally {
    running = false;
    await Promise.all(load);
  }
}

async function webTasks(stack: TestStack): Promise<string[]> {
  const out = await docker(['service', 'ps', stack.service('webserver'), '--filter', 'desired-state=running', '--format', '{{.ID}} {{.CurrentState}}']);
  return out.trim().split('\n').filter((l) => l.includes('Running')).map((l) => l.split(' ')[0]);
}

async function updateState(service: string): Promise<string> {
  return (await docker(['service', 'inspect', service, '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'])).trim();
}

async function container(stack: TestStack, service: string): Promise<string> {
  return (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack.service(service)}`])).trim();
}

describe('webserver updates through the gateway', () => {
  const stack = new TestStack();
  let images: Record<string, string> = {};
  let ready = false;
  let retag = '';

  beforeAll(async () => {
    const state = await swarmState();
    if (state !== 'active true') {
      if (CI) throw new Error(`a Swarm manager is needed (docker info: ${state}). Fix: docker swarm init --advertise-addr 127.0.0.1`);
      return;
    }
    images = await buildImages();
    if (!images.SWARMFLOW_GATEWAY_IMAGE) throw new Error(`build-images.sh printed no SWARMFLOW_GATEWAY_IMAGE: ${JSON.stringify(images)}`);
    // No autoscaler and no worker: this is about the API only.
    await stack.deploy({ ...images, SWARMFLOW_AUTOSCALER_REPLICAS: '0' });
    await docker(['service', 'scale', '--detach', `${stack.service('worker-default')}=0`]);
    await waitFor('the API through the gateway', async () => ((await stack.healthy()) ? true : undefined), DEPLOY_MS, 2000);
    await waitFor('an admin token', async () => stack.login(), 120_000, 2000);
    ready = true;
  }, DEPLOY_MS + 240_000);

  afterAll(async () => {
    const left = await stack.remove();
    if (retag) await docker(['image', 'rm', retag]).catch(() => undefined);
    expect(Object.values(left).every((v) => v === '')).toBe(true);
  }, 300_000);

  const it_ = (name: string, fn: () => Promise<void>) => it(name, async () => {
    if (!ready) {
      if (CI) throw new Error('the stack did not deploy (see beforeAll)');
      return;
    }
    await fn();
  }, DEPLOY_MS + 60_000);

  it_('docker service update --force of the webserver (start-first): no request fails', async () => {
    const before = await webTasks(stack);
    expect(before).toHaveLength(1);
    const tally: Tally = { ok: 0, failed: [] };
    const started = Date.now();
    await docker(['service', 'update', '--detach', '--force', stack.service('webserver')]);
    await until(stack, 'the webserver update to complete with a new task', async () => {
      const now = await webTasks(stack);
      return (await updateState(stack.service('webserver'))) === 'completed' && now.length === 1 && now[0] !== before[0];
    }, tally);
    // Some more after the old task is gone, through the new one only.
    const after = tally.ok;
    await until(stack, '20 more requests', async () => tally.ok >= after + 20, tally);
    process.stdout.write(`webserver update: ${tally.ok} requests answered, ${tally.failed.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(tally.failed).toEqual([]);
    expect(tally.ok).toBeGreaterThan(20);
  });

  it_('a redeploy of a new swarmflow image: the gateway keeps running, no request fails', async () => {
    const gatewayBefore = await container(stack, 'gateway');
    const webBefore = await webTasks(stack);
    const image = `${images.SWARMFLOW_IMAGE.split(':')[0]}:${images.SWARMFLOW_IMAGE.split(':')[1]}-webupdate`;
    await docker(['tag', images.SWARMFLOW_IMAGE, image]);
    const tally: Tally = { ok: 0, failed: [] };
    retag = image;
    {
      await stack.redeploy({ SWARMFLOW_IMAGE: image });
      await until(stack, 'the webserver on the new image', async () => {
        const now = await webTasks(stack);
        const spec = (await docker(['service', 'inspect', stack.service('webserver'), '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])).trim();
        return spec.startsWith(image) && (await updateState(stack.service('webserver'))) === 'completed' && now.length === 1 && now[0] !== webBefore[0];
      }, tally);
      process.stdout.write(`redeploy: ${tally.ok} requests answered, ${tally.failed.length} failed\n`);
      expect(tally.failed).toEqual([]);
      expect(await container(stack, 'gateway')).toBe(gatewayBefore);
    }
  });
});
