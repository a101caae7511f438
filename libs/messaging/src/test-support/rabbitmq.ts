import { execFile, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import { EXCHANGES } from '../broker';

const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';
const PROBE_TIMEOUT_MS = 2000;

/** RabbitMQ for int tests: env `SWARMFLOW_TEST_AMQP_URL`, else the local default. */
export function rabbitmqUrl(): string {
  return process.env.SWARMFLOW_TEST_AMQP_URL || DEFAULT_URL;
}

/** The URL with its password masked, for messages. */
export function redactedRabbitmqUrl(url = rabbitmqUrl()): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function endpoint(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'amqps:' ? 5671 : 5672;
  return { host: parsed.hostname || '127.0.0.1', port };
}

/** Whether a TCP connection to RabbitMQ's port succeeds within 2 s. */
export async function rabbitmqAvailable(url = rabbitmqUrl()): Promise<boolean> {
  const { host, port } = endpoint(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

const probeCache = new Map<string, boolean>();

/**
 * Synchronous reachability probe: jest's `describe` cannot wait for a promise, so a
 * tiny node script tries the TCP connect in a child process. Cached per URL for the
 * module's lifetime (jest gives each test file its own module registry).
 */
export function rabbitmqAvailableSync(url = rabbitmqUrl()): boolean {
  const cached = probeCache.get(url);
  if (cached !== undefined) return cached;
  const { host, port } = endpoint(url);
  const script =
    `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:${PROBE_TIMEOUT_MS}});` +
    `s.on('connect',()=>process.exit(0));s.on('timeout',()=>process.exit(1));s.on('error',()=>process.exit(1));`;
  const result = spawnSync(process.execPath, ['-e', script], { timeout: PROBE_TIMEOUT_MS + 1000, stdio: 'ignore' });
  const ok = result.status === 0;
  probeCache.set(url, ok);
  return ok;
}

/**
 * `describe` for tests that need RabbitMQ. When it is unreachable the block is skipped
 * with a console message, except under `CI=true`, where the block is replaced by one
 * failing test: CI must not go green by skipping the broker tests.
 */
export function describeWithRabbitMQ(name: string, fn: () => void): void {
  const url = rabbitmqUrl();
  if (rabbitmqAvailableSync(url)) {
    describe(name, fn);
    return;
  }
  const why = `RabbitMQ is not reachable at ${redactedRabbitmqUrl(url)} (set SWARMFLOW_TEST_AMQP_URL or start rabbitmq-server)`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('requires RabbitMQ under CI=true', () => {
        throw new Error(`RabbitMQ is required under CI=true: ${why}`);
      });
    });
    return;
  }
  console.warn(`Skipping "${name}": ${why}`);
  describe.skip(name, fn);
}

/** Deletes the prefixed queues and the prefixed exchanges a test file declared. */
export async function deleteRabbitMQTopology(prefix: string, queueNames: Iterable<string>, url = rabbitmqUrl()): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    for (const name of queueNames) await ch.deleteQueue(prefix + name);
    for (const exchange of Object.values(EXCHANGES)) await ch.deleteExchange(prefix + exchange);
    await ch.close();
  } finally {
    await conn.close();
  }
}

const run = promisify(execFile);

/**
 * Closes, from the server side, every connection whose client-provided name contains
 * `connectionName`, as a broker restart would. Targeted rather than
 * `rabbitmqctl close_all_connections`, so tests of other files sharing the server keep
 * their connections. Needs `rabbitmqctl` (local server, root). Returns how many closed.
 */
export async function closeRabbitMQConnections(connectionName: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties']);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(`"connection_name","${connectionName}`))
    .map((line) => line.split('\t')[0].trim())
    .filter(Boolean);
  await Promise.all(pids.map((pid) => run('rabbitmqctl', ['-q', 'close_connection', pid, 'swarmflow test: simulated outage'])));
  return pids.length;
}

/**
 * A loopback TCP proxy in front of RabbitMQ that can lose the server's replies, so a
 * test can make confirms vanish with the connection deterministically (a server-side
 * close races the client's confirms). `url` is `rabbitmqUrl()` pointed at the proxy.
 */
export interface RabbitMQProxy {
  url: string;
  /** From now on, bytes from RabbitMQ to clients are dropped (confirms never arrive). */
  dropReplies(): void;
  /** Destroys every proxied connection; new ones are forwarded normally again. */
  cut(): void;
  close(): Promise<void>;
}

export async function startRabbitMQProxy(url = rabbitmqUrl()): Promise<RabbitMQProxy> {
  const target = endpoint(url);
  const sockets = new Set<net.Socket>();
  let dropping = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!dropping) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  const cut = () => {
    dropping = false;
    for (const s of sockets) s.destroy();
  };
  return {
    url: proxied.toString(),
    dropReplies: () => (dropping = true),
    cut,
    close: () => {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
