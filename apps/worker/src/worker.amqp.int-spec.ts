import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { AmqpBroker, EXCHANGES, taskQueue } from '@swarmflow/messaging';
import { ConsumerRecorder, ProcessCounter, PublishRecorder, RecordingLogger, taskMessage, signed, signedControl, TEST_CLUSTER_KEY } from './test-support/worker-harness';
import { WorkerService } from './worker.service';

const url = process.env.SWARMFLOW_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** RabbitMQ reachable? Without it the suite skips, except under CI=true where that is a failure. */
async function rabbitAvailable(): Promise<boolean> {
  try {
    const conn = await amqp.connect(url);
    await conn.close();
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`RabbitMQ is required under CI=true (${url}): ${(err as Error).message}`);
    console.warn(`skipping worker.amqp.int-spec: no RabbitMQ at ${url}`);
    return false;
  }
}

describe('WorkerService on RabbitMQ', () => {
  const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
  let available = false;
  let broker: AmqpBroker;
  let worker: WorkerService;
  let published: PublishRecorder;
  let consumers: ConsumerRecorder;
  let processes: ProcessCounter;

  beforeAll(async () => {
    available = await rabbitAvailable();
  });

  beforeEach(async () => {
    if (!available) return;
    const logger = new RecordingLogger();
    broker = new AmqpBroker({ url, prefix, logger, connectionName: `swarmflow worker test ${prefix}` });
    await broker.start();
    published = new PublishRecorder(broker);
    consumers = new ConsumerRecorder(broker);
    processes = new ProcessCounter();
    worker = new WorkerService(broker, {
      name: 'w1', hostname: 'host1', queues: ['default'], concurrency: 2, heartbeatIntervalMs: 60_000, graceMs: 1000, logFlushMs: 20,
    }, { logger, runProcess: processes.runProcess, clusterKey: TEST_CLUSTER_KEY });
    await worker.start();
  });

  afterEach(async () => {
    if (!available) return;
    await worker.shutdown('test over');
    await broker.close();
  });

  afterAll(async () => {
    if (!available) return;
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.deleteQueue(prefix + taskQueue('default').name);
    for (const exchange of Object.values(EXCHANGES)) await ch.deleteExchange(prefix + exchange);
    await conn.close();
  });

  it('holds concurrency by buffering the deliveries beyond it (no nack, no pause), and runs every task', async () => {
    if (!available) return;
    const tasks = Array.from({ length: 6 }, () => taskMessage({ command: 'sleep 0.2' }));
    for (const task of tasks) await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await Promise.all(tasks.map((t) => published.finishedOf(t.tiId, 1, 15_000)));

    expect(processes.maxLive).toBe(2);
    expect(consumers.taskNacks()).toEqual([]);
    expect(consumers.pauses).toBe(0);
    expect(consumers.deliveries).toHaveLength(6);
    expect(published.events('task.started')).toHaveLength(6);
    expect(published.finished().map((e) => e.outcome)).toEqual(Array(6).fill('success'));
    expect((await broker.queueStats(taskQueue('default').name)).messages).toBe(0);
  }, 20_000);

  it('gives the buffered tasks back to the queue on drain', async () => {
    if (!available) return;
    const running = [taskMessage({ command: 'sleep 0.3' }), taskMessage({ command: 'sleep 0.3' })];
    const buffered = [taskMessage(), taskMessage()];
    for (const task of running) await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await Promise.all(running.map((t) => published.startedOf(t.tiId)));
    for (const task of buffered) await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await consumers.waitFor('both extra tasks delivered', () => buffered.every((t) => consumers.deliveries.some((d) => d.tiId === t.tiId)));

    await worker.drain();
    expect(consumers.taskNacks()).toEqual(buffered.map((t) => expect.objectContaining({ tiId: t.tiId, requeue: true })));
    expect(published.events('task.started').map((e) => e.tiId).sort()).toEqual(running.map((t) => t.tiId).sort());
    expect((await broker.queueStats(taskQueue('default').name)).messages).toBe(2);
    const conn = await amqp.connect(url);
    await (await conn.createChannel()).purgeQueue(prefix + taskQueue('default').name);
    await conn.close();
  }, 20_000);

  it('drains only once RabbitMQ has confirmed each running try\'s task.finished and the last heartbeat', async () => {
    if (!available) return;
    // What the scheduler would read: every event, routed to a queue of this test's own.
    const events = { name: 'drain-events', exchange: EXCHANGES.events, bindings: ['#'], durable: false };
    await broker.assertQueue(events);
    const running = [taskMessage({ command: 'sleep 0.3' }), taskMessage({ command: 'sleep 0.3' })];
    for (const task of running) await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await Promise.all(running.map((t) => published.startedOf(t.tiId)));

    await worker.drain();
    // Nothing more is sent after the drain: what the queue holds now is what the worker reported.
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const bodies: { type: string; tiId?: number; state?: string }[] = [];
    for (let m = await ch.get(prefix + events.name, { noAck: true }); m; m = await ch.get(prefix + events.name, { noAck: true })) {
      bodies.push(JSON.parse(m.content.toString()));
    }
    await ch.deleteQueue(prefix + events.name);
    await conn.close();
    expect(bodies.filter((b) => b.type === 'task.finished').map((b) => b.tiId).sort()).toEqual(running.map((t) => t.tiId).sort());
    expect(bodies.at(-1)).toMatchObject({ type: 'worker.heartbeat', state: 'stopped' });
  }, 20_000);

  it('cancels a task on a control message and reports it', async () => {
    if (!available) return;
    const task = taskMessage({ command: 'sleep 30' });
    await broker.publish(EXCHANGES.tasks, 'default', signed(task));
    await published.startedOf(task.tiId);
    await broker.publish(EXCHANGES.control, 'worker.w1', signedControl('worker.w1', { type: 'task.cancel', tiId: task.tiId, tryNumber: 1 }));
    expect(await published.finishedOf(task.tiId)).toMatchObject({ outcome: 'failed', reason: 'cancelled' });
  });
});
