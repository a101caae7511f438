import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { WorkerCommand } from '@swarmflow/core';
import { AmqpBroker, EXCHANGES, taskQueue, type ConsumerHandle } from '@swarmflow/messaging';
import { RecordingLogger, signed, signedControl, taskMessage, TEST_CLUSTER_KEY } from './test-support/worker-harness';

const url = process.env.SWARMFLOW_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const root = join(__dirname, '..', '..', '..');

async function rabbitAvailable(): Promise<boolean> {
  try {
    await (await amqp.connect(url)).close();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`RabbitMQ is required under CI=true (${url}): ${(err as Error).message}`);
    console.warn(`skipping worker-control.int-spec: no RabbitMQ at ${url}`);
    return false;
  }
}

/** Events of the worker under test; `waitFor` resolves when a predicate holds. */
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
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(this.events.map((e) => [e.type, e.state ?? e.tiId]))}`)), timeoutMs);
      if (!check()) this.waiters.push(wake);
    });
  }
}

describe('worker process: drain, resume and shutdown over RabbitMQ', () => {
  const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
  const name = 'ctl-worker';
  let available = false;
  let broker: AmqpBroker;
  let events: EventLog;
  let consumer: ConsumerHandle;
  let child: ChildProcess | undefined;

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
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await consumer.cancel();
    await broker.close();
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.deleteQueue(prefix + taskQueue('default').name);
    for (const exchange of Object.values(EXCHANGES)) await ch.deleteExchange(prefix + exchange);
    await conn.close();
  });

  const command = (type: WorkerCommand['type']) => broker.publish(EXCHANGES.control, `worker.${name}`, signedControl(`worker.${name}`, { type, worker: name } satisfies WorkerCommand));
  const beatAfter = (index: number, state: string) => events.waitFor(`a ${state} heartbeat`, () =>
    events.events.slice(index).find((e) => e.type === 'worker.heartbeat' && e.worker === name && e.state === state));
  const ofTask = (type: string, tiId: number) => events.events.find((e) => e.type === type && e.tiId === tiId);

  it('drain stops consuming and lets the running task finish; resume consumes again; shutdown exits 0 once the running task is reported', async () => {
    if (!available) return;
    child = spawn(process.execPath, ['--require', 'tsx/cjs', 'apps/worker/src/main.ts', '--name', name, '--concurrency', '1'], {
      cwd: root, env: { ...process.env, NO_COLOR: '1', SWARMFLOW_AMQP_URL: url, SWARMFLOW_BROKER_PREFIX: prefix, SWARMFLOW_CLUSTER_KEY: TEST_CLUSTER_KEY.toBase64() }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    await beatAfter(0, 'active');

    const running = taskMessage({ command: 'sleep 1; echo first' });
    await broker.publish(EXCHANGES.tasks, 'default', signed(running));
    await events.waitFor('task.started', () => ofTask('task.started', running.tiId));

    let mark = events.events.length;
    await command('worker.drain');
    const draining = await beatAfter(mark, 'draining');
    expect(draining.running).toEqual([{ tiId: running.tiId, tryNumber: 1 }]);
    expect(await broker.queueStats(taskQueue('default').name)).toEqual({ messages: 0, consumers: 0 });
    const late = taskMessage({ command: 'echo late' });
    await broker.publish(EXCHANGES.tasks, 'default', signed(late));
    expect(await events.waitFor('the running task finished', () => ofTask('task.finished', running.tiId))).toMatchObject({ outcome: 'success', logTail: ['first'] });
    // Still up and draining, and the late task still waits in the queue.
    expect(await broker.queueStats(taskQueue('default').name)).toEqual({ messages: 1, consumers: 0 });
    expect(ofTask('task.started', late.tiId) ?? ofTask('task.finished', late.tiId)).toBeUndefined();
    expect(child.exitCode).toBeNull();

    mark = events.events.length;
    await command('worker.resume');
    await beatAfter(mark, 'active');
    expect(await events.waitFor('the late task finished', () => ofTask('task.finished', late.tiId))).toMatchObject({ outcome: 'success', logTail: ['late'] });

    const last = taskMessage({ command: 'sleep 1; echo last' });
    await broker.publish(EXCHANGES.tasks, 'default', signed(last));
    await events.waitFor('task.started of the last task', () => ofTask('task.started', last.tiId));
    mark = events.events.length;
    await command('worker.shutdown');
    await beatAfter(mark, 'stopping');
    expect(await exited).toBe(0);
    expect(await events.waitFor('the last task finished', () => ofTask('task.finished', last.tiId))).toMatchObject({ outcome: 'success', logTail: ['last'] });
    await beatAfter(mark, 'stopped');
    expect(output).toContain('draining: taking no new task');
    expect(output).toContain('resumed: taking work again');
  }, 60_000);
});
