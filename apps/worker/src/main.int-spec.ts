import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { TaskFinishedEvent } from '@swarmflow/core';
import { AmqpBroker, EXCHANGES, taskQueue, type ConsumerHandle } from '@swarmflow/messaging';
import { RecordingLogger, signed, taskMessage, TEST_CLUSTER_KEY } from './test-support/worker-harness';
import { TcpProxy } from '../../../test/support/tcp-proxy';

const url = process.env.SWARMFLOW_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const root = join(__dirname, '..', '..', '..');

async function rabbitAvailable(): Promise<boolean> {
  try {
    await (await amqp.connect(url)).close();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`RabbitMQ is required under CI=true (${url}): ${(err as Error).message}`);
    console.warn(`skipping main.int-spec: no RabbitMQ at ${url}`);
    return false;
  }
}

/** The worker process as deployed (main.ts through tsx), its output kept for assertions. */
function startMain(env: Record<string, string>, args: string[] = []): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'apps/worker/src/main.ts', ...args], {
    cwd: root, env: { ...process.env, NO_COLOR: '1', SWARMFLOW_CLUSTER_KEY: TEST_CLUSTER_KEY.toBase64(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Collects events of the worker under test; resolves `waitFor` when a predicate holds. */
class EventLog {
  readonly events: any[] = [];
  private waiters: Array<() => void> = [];
  push(body: unknown): void {
    this.events.push(body);
    for (const w of this.waiters) w();
  }
  waitFor<T>(what: string, probe: () => T, timeoutMs = 15_000): Promise<NonNullable<T>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = probe();
        if (v) { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== wake); resolve(v as NonNullable<T>); }
        return Boolean(v);
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.events.map((e) => e.type))}`)), timeoutMs);
      if (!check()) this.waiters.push(wake);
    });
  }
}

describe('worker main.ts', () => {
  const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
  let available = false;
  let broker: AmqpBroker;
  let events: EventLog;
  let consumer: ConsumerHandle;

  beforeAll(async () => {
    available = await rabbitAvailable();
    if (!available) return;
    broker = new AmqpBroker({ url, prefix, logger: new RecordingLogger() });
    await broker.start();
    await broker.assertQueue(taskQueue('default'));
    events = new EventLog();
    consumer = await broker.consume(
      { name: 'test.events', exchange: EXCHANGES.events, bindings: ['#'], durable: false, exclusive: true, autoDelete: true },
      (msg) => { events.push(msg.body); msg.ack(); },
      { prefetch: 100 },
    );
  });

  afterAll(async () => {
    if (!available) return;
    await consumer.cancel();
    await broker.close();
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.deleteQueue(prefix + taskQueue('default').name);
    for (const exchange of Object.values(EXCHANGES)) await ch.deleteExchange(prefix + exchange);
    await conn.close();
  });

  it('fails at boot naming the bad variable', async () => {
    const main = startMain({ SWARMFLOW_WORKER_CONCURRENCY: 'lots' });
    expect(await main.exited).toBe(2);
    expect(main.output()).toContain('invalid configuration: SWARMFLOW_WORKER_CONCURRENCY: must be an integer from 1 to 1024, got "lots"');
  }, 20_000);

  it('first SIGTERM drains: the running task finishes, then it exits 0', async () => {
    if (!available) return;
    const main = startMain({ SWARMFLOW_AMQP_URL: url, SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_WORKER_NAME: 'main-drain' });
    const task = taskMessage({ command: 'sleep 0.5; echo done' });
    await events.waitFor('an active heartbeat', () => events.events.find((e) => e.worker === 'main-drain' && e.state === 'active'));
    await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await events.waitFor('task.started', () => events.events.find((e) => e.type === 'task.started' && e.tiId === task.tiId));
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
    const finished: TaskFinishedEvent = await events.waitFor('task.finished', () => events.events.find((e) => e.type === 'task.finished' && e.tiId === task.tiId));
    expect(finished).toMatchObject({ outcome: 'success', logTail: ['done'] });
    await events.waitFor('a stopped heartbeat', () => events.events.find((e) => e.worker === 'main-drain' && e.state === 'stopped'));
  }, 30_000);

  it('a second SIGTERM cancels the running task, reported as "worker shutdown"', async () => {
    if (!available) return;
    const main = startMain({ SWARMFLOW_AMQP_URL: url, SWARMFLOW_BROKER_PREFIX: prefix }, ['--name', 'main-kill', '--concurrency', '1']);
    const task = taskMessage({ command: 'sleep 30' });
    await events.waitFor('an active heartbeat', () => events.events.find((e) => e.worker === 'main-kill' && e.state === 'active'));
    await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await events.waitFor('task.started', () => events.events.find((e) => e.type === 'task.started' && e.tiId === task.tiId));
    main.child.kill('SIGTERM');
    await events.waitFor('a stopping heartbeat', () => events.events.find((e) => e.worker === 'main-kill' && e.state === 'stopping'));
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
    const finished = await events.waitFor('task.finished', () => events.events.find((e) => e.type === 'task.finished' && e.tiId === task.tiId));
    expect(finished).toMatchObject({ outcome: 'failed', reason: 'worker shutdown', signal: 'SIGTERM' });
  }, 30_000);

  it('a SIGTERM with RabbitMQ unreachable exits within SWARMFLOW_WORKER_STOP_TIMEOUT, logging the try it gives up on', async () => {
    if (!available) return;
    const target = new URL(url);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    const port = await proxy.start();
    target.host = `127.0.0.1:${port}`;
    const main = startMain({ SWARMFLOW_AMQP_URL: target.toString(), SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_WORKER_STOP_TIMEOUT: '1s' },
      ['--name', 'main-cut', '--concurrency', '1']);
    try {
      const task = taskMessage({ command: 'sleep 30' });
      await events.waitFor('an active heartbeat', () => events.events.find((e) => e.worker === 'main-cut' && e.state === 'active'));
      await broker.publish(EXCHANGES.tasks, 'default', signed(task));
      await events.waitFor('task.started', () => events.events.find((e) => e.type === 'task.started' && e.tiId === task.tiId));
      proxy.cut();
      await waitForText(main.output, 'RabbitMQ connection lost');
      const signalled = Date.now();
      main.child.kill('SIGTERM');
      const bound = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 6_000).unref());
      expect(await Promise.race([main.exited, bound])).toBe(0);
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(1_000);
      expect(main.output()).toContain('RabbitMQ unreachable for 1s while stopping (SWARMFLOW_WORKER_STOP_TIMEOUT): giving up on 1 running');
      expect(main.output()).toContain(`task instance ${task.tiId} try ${task.tryNumber}: process sent SIGTERM, unreported`);
    } finally {
      if (main.child.exitCode === null && main.child.signalCode === null) main.child.kill('SIGKILL');
      await main.exited;
      await proxy.close();
    }
  }, 30_000);
});

/** Resolves once `output()` contains `text`; rejects after `timeoutMs`. */
function waitForText(output: () => string, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (output().includes(text)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`no "${text}" in the output after ${timeoutMs} ms:\n${output()}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}
