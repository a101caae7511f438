import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

// Helpers for deploying deploy/swarm/stack.yml on the single-node Swarm under a name of one's own
// (test/swarm/*.e2e-spec.ts and bench/autoscaler-swarm.ts): the docker CLI, waiting on a condition,
// a free port, the images (deploy/swarm/build-images.sh, cached by content hash), the secrets, a
// deploy and a teardown that leaves nothing behind.

const run = promisify(execFile);
export const DOCKER = '/usr/bin/docker';
export const REPO = path.resolve(__dirname, '../../..');
export const STACK_FILE = path.join(REPO, 'deploy/swarm/stack.yml');
export const DAGS_DIR_FILE = path.join(REPO, 'deploy/swarm/stack.dags-dir.yml');

export async function docker(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
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

/** `active true` on a Swarm manager; otherwise what the engine says. */
export async function swarmState(): Promise<string> {
  try {
    return (await run(DOCKER, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).stdout.trim();
  } catch (err) {
    return `no Docker engine (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` and the last error after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }).on('error', reject);
  });
}

/** Builds (or finds cached) the stack's images: { SWARMFLOW_IMAGE, SWARMFLOW_GATEWAY_IMAGE, POSTGRES_IMAGE, RABBITMQ_IMAGE }. */
export async function buildImages(): Promise<Record<string, string>> {
  const { stdout } = await run('bash', [path.join(REPO, 'deploy/swarm/build-images.sh')], { cwd: REPO, maxBuffer: 16 << 20 });
  return Object.fromEntries([...stdout.matchAll(/(\w+_IMAGE)=(\S+)/g)].map((m) => [m[1], m[2]]));
}

/** A stack deployed under its own name, port and secrets; `remove()` takes everything away again. */
export class TestStack {
  readonly secretNames: string[];
  base = '';
  token = '';
  env: NodeJS.ProcessEnv = {};

  constructor(readonly name: string = `sf${randomBytes(3).toString('hex')}`) {
    this.secretNames = ['cluster_key', 'db_password', 'rabbitmq_password', 'admin_password'].map((s) => `${name}_${s}`);
  }

  service(short: string): string {
    return `${this.name}_${short}`;
  }

  /** Secrets, then `docker stack deploy` of stack.yml (plus `extraFiles`) with `vars` (images, settings). */
  async deploy(vars: Record<string, string>, extraFiles: string[] = []): Promise<void> {
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    // No IPVS in the kernel (some VMs): Swarm's routing mesh cannot work, so the port is published on the host.
    const ipvs = existsSync('/proc/net/ip_vs');
    this.env = {
      ...process.env, SWARMFLOW_PORT: String(port), SWARMFLOW_SECRET_PREFIX: this.name, SWARMFLOW_STACK: this.name,
      // A gateway-to-webserver network of its own: stacks deployed side by side need distinct subnets.
      SWARMFLOW_EDGE_SUBNET: `10.${200 + randomBytes(1)[0] % 50}.${randomBytes(1)[0]}.0/24`,
      ...(ipvs ? {} : { SWARMFLOW_PORT_MODE: 'host', SWARMFLOW_GATEWAY_UPDATE_ORDER: 'stop-first' }),
      ...vars,
    };
    const values = [randomBytes(32).toString('base64'), randomBytes(16).toString('hex'), randomBytes(16).toString('hex'), randomBytes(12).toString('hex')];
    for (const [i, secret] of this.secretNames.entries()) {
      await docker(['secret', 'create', '--label', `swarmflow.test=${this.name}`, secret, '-'], { input: values[i] });
    }
    await this.redeploy({}, extraFiles);
  }

  /** `docker stack deploy` again (an update: a new image tag, other settings), with the variables of {@link deploy} and `vars` over them. */
  async redeploy(vars: Record<string, string>, extraFiles: string[] = []): Promise<void> {
    this.env = { ...this.env, ...vars };
    await docker(['stack', 'deploy', '--resolve-image', 'never', '-c', STACK_FILE, ...extraFiles.flatMap((f) => ['-c', f]), this.name], { env: this.env });
  }

  /** Each service of the stack (without the stack's prefix) and its `docker service ls` replicas, e.g. `2/2`. */
  async replicas(): Promise<Record<string, string>> {
    const out = await docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${this.name}`, '--format', '{{.Name}} {{.Replicas}}']);
    return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ')).map(([n, r]) => [n.slice(this.name.length + 1), r]));
  }

  /** An API token for the admin, made in the webserver's container (once it runs). */
  async login(): Promise<string> {
    if (!this.token) {
      const web = (await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${this.service('webserver')}`])).trim().split('\n')[0];
      if (!web) throw new Error('no webserver container yet');
      this.token = (await docker(['exec', web, 'swarmflow', 'tokens', 'create', '--name', 'test', '--user', 'admin', '--database'])).trim();
    }
    return this.token;
  }

  async api(method: string, route: string, body?: unknown): Promise<any> {
    const res = await fetch(`${this.base}/api/v1${route}`, {
      method, headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async healthy(): Promise<boolean> {
    try {
      return ((await (await fetch(`${this.base}/api/v1/health`)).json()) as { status: string }).status === 'ok';
    } catch {
      return false;
    }
  }

  /**
   * Everything the stack left: its services (workers first, while the broker is up), containers,
   * network, volumes and secrets. Never throws; returns what is still there.
   */
  async remove(): Promise<Record<string, string>> {
    const workers = (await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`, '--filter', `name=${this.name}_worker-`]).catch(() => '')).trim().split('\n').filter(Boolean);
    const autoscaler = (await docker(['service', 'ls', '-q', '--filter', `name=${this.service('autoscaler')}`]).catch(() => '')).trim();
    // The autoscaler first, until it is gone (running, it would scale the workers back up to their minimum), then the workers.
    if (autoscaler) await docker(['service', 'scale', `${this.service('autoscaler')}=0`]).catch(() => undefined);
    if (workers.length) await docker(['service', 'scale', ...workers.map((w) => `${w}=0`)]).catch(() => undefined);
    await docker(['stack', 'rm', this.name]).catch(() => undefined);
    await waitFor('the stack\'s containers and network to go', async () => {
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${this.name}`]);
      const nets = await docker(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`]);
      return left.trim() === '' && nets.trim() === '' ? true : undefined;
    }, 240_000).catch(() => undefined);
    for (const volume of ['postgres', 'rabbitmq']) await docker(['volume', 'rm', `${this.name}_${volume}`]).catch(() => undefined);
    for (const secret of this.secretNames) await docker(['secret', 'rm', secret]).catch(() => undefined);
    const list = async (args: string[]) => (await docker(args).catch((e: Error) => e.message)).trim();
    return {
      services: await list(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`]),
      containers: await list(['ps', '-aq', '--filter', `name=${this.name}_`]),
      volumes: await list(['volume', 'ls', '-q', '--filter', `name=${this.name}_`]),
      configs: await list(['config', 'ls', '-q', '--filter', `name=${this.name}_`]),
      secrets: await list(['secret', 'ls', '-q', '--filter', `name=${this.name}_`]),
      networks: await list(['network', 'ls', '-q', '--filter', `name=${this.name}_`]),
    };
  }
}
