import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { AmqpBroker, EXCHANGES, taskQueue } from '@swarmflow/messaging';
import { TcpProxy } from '../../../test/support/tcp-proxy';
import { PublishRecorder, RecordingLogger, signed, taskMessage, TEST_CLUSTER_KEY } from './test-support/worker-harness';
import { WorkerService } from './worker.service';

const url = process.env.SWARMFLOW_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function rabbitAvailable(): Promise<boolean> {
  try {
    await (await amqp.connect(url)).close();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`RabbitMQ is required under CI=true (${url}): ${(err as Error).message}`);
    console.warn(`skipping worker.stop-unreachable.int-spec: no RabbitMQ at ${url}`);
    return false;
  }
}

/** Resolves with 'stopped', or 'hung' if the worker is still up after `ms`. */
function stoppedWithin(worker: WorkerService, ms: number): Promise<'stopped' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    worker.whenStopped().then(() => 'stopped' as const),
    new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms))),
  ]).finally(() => clearTimeout(timer));
}

// The worker reaches real RabbitMQ through a TCP proxy; cutting the proxy makes the broker
// vanish for it alone (its connection is reset, reconnects are refused).
describe('WorkerService stopping while RabbitMQ is unreachable', () => {
  const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
  let available = false;
  let proxy: TcpProxy;
  let broker: AmqpBroker;
  let worker: WorkerService;
  let logger: RecordingLogger;
  let published: PublishRecorder;
  // A queue per test: a try cut off in one test is redelivered, and must not run in the next.
  const queues: string[] = [];
  let queue = '';

  beforeAll(async () => {
    available = await rabbitAvailable();
  });

  beforeEach(async () => {
    if (!available) return;
    const target = new URL(url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    target.host = `127.0.0.1:${await proxy.start()}`;
    queue = `stop${queues.length}`;
    queues.push(queue);
    logger = new RecordingLogger();
    broker = new AmqpBroker({ url: target.toString(), prefix, logger, connectionName: `swarmflow stop test ${prefix}`, reconnectDelayMs: 100 });
    await broker.start();
    published = new PublishRecorder(broker);
    worker = new WorkerService(broker, {
      name: `w-stop-${process.pid}`, hostname: 'host1', queues: [queue], concurrency: 1, heartbeatIntervalMs: 60_000, graceMs: 1000,
      logFlushMs: 20, startedDelayMs: 0, stopTimeoutMs: 1000,
    }, { logger, clusterKey: TEST_CLUSTER_KEY });
    await worker.start();
  });

  afterEach(async () => {
    if (!available) return;
    // The broker first: closed while the proxy resets its connection, it would wait for confirms that never come.
    await broker.close();
    await proxy.close();
  });

  afterAll(async () => {
    if (!available) return;
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    for (const q of queues) await ch.deleteQueue(prefix + taskQueue(q).name);
    for (const exchange of Object.values(EXCHANGES)) await ch.deleteExchange(prefix + exchange);
    await conn.close();
  });

  it('worker.shutdown with the broker gone stops within stopTimeoutMs, logging the try it gives up on', async () => {
    if (!available) return;
    const task = taskMessage({ command: 'sleep 30', queue });
    await broker.publish(EXCHANGES.tasks, queue, signed(task));
    await published.waitFor('task.started', () => published.events('task.started').find((e) => e.tiId === task.tiId), 10_000);
    proxy.cut();
    await logger.waitForLine(/RabbitMQ connection lost/);
    const asked = Date.now();
    void worker.shutdown();
    expect(await stoppedWithin(worker, 5_000)).toBe('stopped');
    expect(Date.now() - asked).toBeGreaterThanOrEqual(1_000);
    expect(worker.state).toBe('stopped');
    expect(logger.lines).toContainEqual(expect.stringMatching(/^warn RabbitMQ unreachable for 1s while stopping \(SWARMFLOW_WORKER_STOP_TIMEOUT\): giving up on 0 running and 1 unreported/));
    // shutdown() cancelled the try at once; its end could not be reported.
    expect(logger.lines).toContain(`warn task instance ${task.tiId} try ${task.tryNumber}: ended, task.finished not published; the scheduler retries it when this worker's heartbeats stop`);
  }, 20_000);

  it('a drain whose broker comes back within stopTimeoutMs stops normally, with its last heartbeat', async () => {
    if (!available) return;
    proxy.cut();
    await logger.waitForLine(/RabbitMQ connection lost/);
    const drained = worker.drain();
    proxy.restore();
    await drained;
    expect(worker.state).toBe('stopped');
    expect(published.heartbeats().at(-1)).toMatchObject({ state: 'stopped' });
    expect(logger.lines.filter((l) => l.includes('giving up'))).toEqual([]);
  }, 20_000);
});
