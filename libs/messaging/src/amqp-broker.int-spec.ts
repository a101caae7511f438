import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { AmqpBroker, type AmqpBrokerOptions } from './amqp-broker';
import { EXCHANGES, QueueSpec } from './broker';
import { describeBrokerContract } from './broker.contract';
import { BrokerLogger } from './logger';
import {
  closeRabbitMQConnections, deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl, startRabbitMQProxy,
} from './test-support/rabbitmq';
import { Inbox, waitUntil, withTimeout } from './test-support/wait';

/** Random per file: this file's exchanges, queues and connections share nothing with other runs. */
const prefix = `test-${randomUUID().slice(0, 8)}.`;

/** Collects broker log lines so tests can assert them and the output stays readable. */
function recordingLogger(): BrokerLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (m) => lines.push(`log ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

describeWithRabbitMQ('AmqpBroker (RabbitMQ)', () => {
  describeBrokerContract(
    'AmqpBroker',
    async () => new AmqpBroker({ url: rabbitmqUrl(), prefix, reconnectDelayMs: 50, logger: recordingLogger() }),
    { cleanup: (names) => deleteRabbitMQTopology(prefix, names) },
  );

  describe('AmqpBroker specifics', () => {
    jest.setTimeout(90_000);
    const declared = new Set<string>();
    const brokers: AmqpBroker[] = [];
    let raw: amqp.ChannelModel;

    /** Each broker gets its own connection name, so an outage can target exactly it. */
    async function open(label: string, options: Partial<Pick<AmqpBrokerOptions, 'coalesce' | 'url'>> = {}) {
      const logger = recordingLogger();
      const connectionName = `swarmflow ${prefix}${label}.${randomUUID().slice(0, 6)}`;
      const broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, reconnectDelayMs: 50, logger, connectionName, ...options });
      const statuses: string[] = [];
      const statusWaiters: Array<{ status: string; resolve(): void }> = [];
      broker.onStatus((status) => {
        statuses.push(status);
        for (const w of statusWaiters.filter((x) => x.status === status)) w.resolve();
      });
      brokers.push(broker);
      await broker.start();
      const next = (status: 'connected' | 'disconnected') =>
        withTimeout(`status ${status}`, new Promise<void>((resolve) => statusWaiters.push({ status, resolve })), 15_000);
      return { broker, logger, connectionName, statuses, next };
    }

    function queue(label: string, bindings = [label]): QueueSpec {
      const spec: QueueSpec = { name: `amqp.${label}.${randomUUID().slice(0, 8)}`, exchange: EXCHANGES.tasks, bindings };
      declared.add(spec.name);
      return spec;
    }

    beforeAll(async () => {
      raw = await amqp.connect(rabbitmqUrl());
    });

    afterEach(async () => {
      await Promise.all(brokers.splice(0).map((b) => b.close()));
    });

    afterAll(async () => {
      await raw.close();
      await deleteRabbitMQTopology(prefix, declared);
    });

    it('prefixes exchanges and queues on the server', async () => {
      const { broker } = await open('prefix');
      const spec = queue('prefixed');
      await broker.assertQueue(spec);
      const ch = await raw.createChannel();
      await ch.checkExchange(`${prefix}swarmflow.tasks`);
      await expect(ch.checkQueue(prefix + spec.name)).resolves.toMatchObject({ queue: prefix + spec.name });
      await ch.close();
    });

    it('coalesces publishes made while one is in flight into one message; consumers see each, in order', async () => {
      const { broker } = await open('coalesce', { coalesce: [EXCHANGES.tasks] });
      const spec = queue('coalesce', ['co.*']);
      await broker.assertQueue(spec);
      // The first goes out alone at once; the other 39 wait for its confirm and leave together.
      await Promise.all(Array.from({ length: 40 }, (_, n) => broker.publish(EXCHANGES.tasks, `co.${n % 3}`, { n })));
      expect(await broker.queueStats(spec.name)).toEqual({ messages: 2, consumers: 0 });

      const { broker: reader } = await open('coalesce-reader');
      const inbox = new Inbox<{ n: number }>((m) => m.ack());
      await reader.consume(spec, inbox.handler, { prefetch: 1 });
      await inbox.waitFor(40);
      expect(inbox.bodies).toEqual(Array.from({ length: 40 }, (_, n) => ({ n })));
      expect(inbox.messages.map((m) => m.routingKey)).toEqual(Array.from({ length: 40 }, (_, n) => `co.${n % 3}`));
      await waitUntil('the queue empty once every part is acked', async () => (await reader.queueStats(spec.name)).messages === 0);
    });

    it('requeues a whole batch when one of its parts is nacked with requeue (at-least-once)', async () => {
      const { broker } = await open('batch-nack', { coalesce: [EXCHANGES.tasks] });
      const spec = queue('batch-nack', ['bn']);
      await broker.assertQueue(spec);
      await Promise.all([0, 1, 2, 3].map((n) => broker.publish(EXCHANGES.tasks, 'bn', { n })));
      const { broker: reader } = await open('batch-nack-reader');
      let nacked = false;
      const inbox = new Inbox<{ n: number }>((m) => {
        if (m.body.n === 2 && !nacked) {
          nacked = true;
          m.nack(true);
        } else m.ack();
      });
      await reader.consume(spec, inbox.handler, { prefetch: 10 });
      await inbox.waitFor(7);
      expect(inbox.messages.map((m) => [m.body.n, m.redelivered])).toEqual([
        [0, false], [1, false], [2, false], [3, false], [1, true], [2, true], [3, true],
      ]);
    });

    it('recovers from a server-side connection close: consumers resume and outage publishes are delivered', async () => {
      const { broker, connectionName, next, statuses, logger } = await open('outage');
      const active = queue('active');
      const paused = queue('paused');
      const inbox = new Inbox<{ n: number }>((m) => m.ack());
      const pausedInbox = new Inbox<{ n: number }>((m) => m.ack());
      await broker.consume(active, inbox.handler, { prefetch: 5 });
      const pausedHandle = await broker.consume(paused, pausedInbox.handler, { prefetch: 5 });
      await pausedHandle.pause();
      await broker.publish(EXCHANGES.tasks, active.bindings[0], { n: 1 });
      await inbox.waitFor(1);

      const disconnected = next('disconnected');
      const reconnected = next('connected');
      expect(await closeRabbitMQConnections(connectionName)).toBe(1);
      await disconnected;
      // Issued while the connection is down: must wait, not fail, and arrive after recovery.
      const duringOutage = broker.publish(EXCHANGES.tasks, active.bindings[0], { n: 2 });
      const toPaused = broker.publish(EXCHANGES.tasks, paused.bindings[0], { n: 3 });
      await reconnected;
      await withTimeout('publish made during the outage', Promise.all([duringOutage, toPaused]));
      await inbox.waitFor(2);
      expect(inbox.bodies).toEqual([{ n: 1 }, { n: 2 }]);
      expect(statuses).toEqual(['connected', 'disconnected', 'connected']);
      expect(logger.lines.some((l) => l.startsWith('warn RabbitMQ connection lost'))).toBe(true);

      // Still paused after the reconnect; resume() starts it.
      expect(await broker.queueStats(paused.name)).toEqual({ messages: 1, consumers: 0 });
      await pausedHandle.resume();
      await pausedInbox.waitFor(1);
      expect(pausedInbox.bodies).toEqual([{ n: 3 }]);
    });

    it('re-sends publishes whose confirms were lost with the connection (at-least-once, none lost)', async () => {
      // Through a proxy that drops RabbitMQ's replies, so 200 publishes reach the queue but
      // their confirms never arrive; then the connection is cut. (A server-side close races
      // the confirms: with all of them in before the drop, nothing would be re-sent.)
      const proxy = await startRabbitMQProxy();
      const { broker, next, logger } = await open('resend', { url: proxy.url });
      try {
        const spec = queue('resend');
        await broker.assertQueue(spec);
        const send = (from: number, count: number) =>
          Array.from({ length: count }, (_, i) => broker.publish(EXCHANGES.tasks, spec.bindings[0], { n: from + i }));
        await Promise.all(send(0, 100));
        proxy.dropReplies();
        const unconfirmed = send(100, 200);
        const ch = await raw.createChannel();
        await waitUntil('the 200 unconfirmed publishes are in the queue', async () =>
          (await ch.checkQueue(prefix + spec.name)).messageCount === 300);
        await ch.close();
        const reconnected = next('connected');
        proxy.cut();
        await reconnected;
        await withTimeout('every publish confirmed after recovery', Promise.all(unconfirmed), 20_000);
        expect(logger.lines.filter((l) => /^warn re-sending \d+ publish/.test(l))).toEqual([
          'warn re-sending 200 publish(es) whose confirm was lost with the connection',
        ]);

        const seen = new Set<number>();
        const inbox = new Inbox<{ n: number }>((m) => {
          seen.add(m.body.n);
          m.ack();
        });
        await broker.consume(spec, inbox.handler, { prefetch: 500 });
        // None lost; the 200 whose confirms were lost arrive twice (at-least-once).
        await waitUntil('all 300 distinct messages', () => seen.size === 300 && inbox.messages.length === 500, { timeoutMs: 20_000 });
        await waitUntil('queue empty', async () => (await broker.queueStats(spec.name)).messages === 0);
        expect(inbox.messages).toHaveLength(500);
      } finally {
        await broker.close(); // before the proxy goes, or it would retry against a closed port
        await proxy.close();
      }
    });

    it('drops a message that is not JSON with a warning, and keeps consuming', async () => {
      const { broker, logger } = await open('malformed');
      const spec = queue('malformed');
      const inbox = new Inbox<{ ok: boolean }>((m) => m.ack());
      await broker.consume(spec, inbox.handler, { prefetch: 5 });
      const ch = await raw.createConfirmChannel();
      ch.publish(`${prefix}${EXCHANGES.tasks}`, spec.bindings[0], Buffer.from('{not json'), { contentType: 'application/json' });
      await ch.waitForConfirms();
      await ch.close();
      await broker.publish(EXCHANGES.tasks, spec.bindings[0], { ok: true });
      await inbox.waitFor(1);
      await waitUntil('queue empty', async () => (await broker.queueStats(spec.name)).messages === 0);
      expect(inbox.bodies).toEqual([{ ok: true }]);
      expect(logger.lines.filter((l) => l.includes('that is not JSON'))).toHaveLength(1);
    });

    it('fails start() with a message naming the URL (password masked) when RabbitMQ is unreachable', async () => {
      const broker = new AmqpBroker({ url: 'amqp://guest:secret@127.0.0.1:1', prefix, logger: recordingLogger() });
      await expect(broker.start()).rejects.toThrow(/^cannot connect to RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1: /);
      await expect(broker.publish(EXCHANGES.tasks, 'x', {})).rejects.toThrow('cannot publish: broker is idle');
    });

    it('close() waits for confirms: every message resolved before close is in the queue', async () => {
      const { broker } = await open('close');
      const spec = queue('close');
      await broker.assertQueue(spec);
      const publishes = Array.from({ length: 1000 }, (_, i) => broker.publish(EXCHANGES.tasks, spec.bindings[0], { i }));
      await broker.close();
      await Promise.all(publishes);
      const ch = await raw.createChannel();
      expect((await ch.checkQueue(prefix + spec.name)).messageCount).toBe(1000);
      await ch.close();
    });
  });
});
