import { randomUUID } from 'node:crypto';
import { Broker, EXCHANGES, ExchangeName, QueueSpec } from './broker';
import { BrokerStateError, MessageAlreadySettledError, QueueNotFoundError } from './errors';
import { Inbox, waitUntil, withTimeout } from './test-support/wait';

/** Hooks a contract run may need around the shared specs. */
export interface BrokerContractHooks {
  /** After the whole suite: delete what the specs declared (queue names are unprefixed). */
  cleanup?(queueNames: string[]): Promise<void>;
}

/**
 * The behaviour every {@link Broker} must show, run against RabbitMQ (int) and the
 * in-memory broker (unit). `makeBroker` returns a new, not yet started broker; the
 * suite starts it and closes it after each test. Queue names are random per test so
 * a shared RabbitMQ needs only a prefix for isolation.
 */
export function describeBrokerContract(name: string, makeBroker: () => Promise<Broker>, hooks: BrokerContractHooks = {}): void {
  describe(`Broker contract: ${name}`, () => {
    jest.setTimeout(20_000);
    const opened: Broker[] = [];
    const declared = new Set<string>();

    async function open(): Promise<Broker> {
      const broker = await makeBroker();
      opened.push(broker);
      await broker.start();
      return broker;
    }

    function queue(label: string, exchange: ExchangeName, bindings: string[], extra: Partial<QueueSpec> = {}): QueueSpec {
      const spec: QueueSpec = { name: `contract.${label}.${randomUUID().slice(0, 8)}`, exchange, bindings, durable: true, ...extra };
      declared.add(spec.name);
      return spec;
    }

    const stats = (broker: Broker, spec: QueueSpec) => broker.queueStats(spec.name);

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((b) => b.close()));
    });

    afterAll(async () => {
      await hooks.cleanup?.([...declared]);
    });

    describe('lifecycle', () => {
      it('rejects a publish before start() with a BrokerStateError naming the state', async () => {
        const broker = await makeBroker();
        opened.push(broker);
        const error = await broker.publish(EXCHANGES.tasks, 'default', {}).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BrokerStateError);
        expect((error as Error).message).toBe('cannot publish: broker is idle (call start() first)');
      });

      it('rejects a publish after close()', async () => {
        const broker = await open();
        await broker.close();
        await expect(broker.publish(EXCHANGES.tasks, 'default', {})).rejects.toThrow('cannot publish: broker is closed');
      });

      it('reports connected to onStatus listeners', async () => {
        const broker = await makeBroker();
        opened.push(broker);
        const statuses: string[] = [];
        broker.onStatus((s) => statuses.push(s));
        await broker.start();
        expect(statuses).toEqual(['connected']);
      });
    });

    describe('routing', () => {
      it('routes by exact key, `*` (one word) and `#` (zero or more words), and drops unbound keys', async () => {
        const broker = await open();
        // Every queue is also bound to `end`, published last: once it arrives, every
        // earlier message routed to that queue has arrived too (per-queue order).
        const specs = {
          exact: queue('exact', EXCHANGES.events, ['task.started', 'end']),
          star: queue('star', EXCHANGES.events, ['task.*', 'end']),
          hash: queue('hash', EXCHANGES.events, ['task.#', 'end']),
          tail: queue('tail', EXCHANGES.events, ['#.done', 'end']),
          mid: queue('mid', EXCHANGES.events, ['a.*.c', 'end']),
        };
        const inboxes = Object.fromEntries(Object.keys(specs).map((k) => [k, new Inbox<{ key: string }>((m) => m.ack())]));
        for (const [k, spec] of Object.entries(specs)) await broker.consume(spec, inboxes[k].handler, { prefetch: 10 });

        const keys = ['task.started', 'task.finished', 'task', 'task.a.b', 'x.done', 'done', 'a.b.c', 'a.c', 'a.b.b.c', 'nobody.binds.this'];
        for (const key of keys) await broker.publish(EXCHANGES.events, key, { key });
        await broker.publish(EXCHANGES.events, 'end', { key: 'end' });

        const received: Record<string, string[]> = {};
        for (const [k, inbox] of Object.entries(inboxes)) {
          await waitUntil(`end marker on ${k}`, () => inbox.bodies.some((b) => b.key === 'end'));
          received[k] = inbox.bodies.map((b) => b.key).filter((key) => key !== 'end');
        }
        expect(received).toEqual({
          exact: ['task.started'],
          star: ['task.started', 'task.finished'],
          hash: ['task.started', 'task.finished', 'task', 'task.a.b'],
          tail: ['x.done', 'done'],
          mid: ['a.b.c'],
        });
      });

      it('keeps exchanges apart: a key published on another exchange does not arrive', async () => {
        const broker = await open();
        const spec = queue('exchanges', EXCHANGES.tasks, ['default']);
        await broker.assertQueue(spec);
        await broker.publish(EXCHANGES.events, 'default', { wrong: true });
        await broker.publish(EXCHANGES.tasks, 'default', { right: true });
        const inbox = new Inbox((m) => m.ack());
        await broker.consume(spec, inbox.handler, { prefetch: 5 });
        await inbox.waitFor(1);
        await waitUntil('queue drained', async () => (await stats(broker, spec)).messages === 0);
        expect(inbox.bodies).toEqual([{ right: true }]);
      });

      it('delivers one published message to every bound queue', async () => {
        const broker = await open();
        const a = queue('fan-a', EXCHANGES.control, ['worker.all']);
        const b = queue('fan-b', EXCHANGES.control, ['worker.*']);
        await broker.assertQueue(a);
        await broker.assertQueue(b);
        await broker.publish(EXCHANGES.control, 'worker.all', { cmd: 'drain' });
        expect(await stats(broker, a)).toEqual({ messages: 1, consumers: 0 });
        expect(await stats(broker, b)).toEqual({ messages: 1, consumers: 0 });
      });
    });

    describe('publish', () => {
      it('resolves only once the message is in its queue (confirmed)', async () => {
        const broker = await open();
        const spec = queue('confirm', EXCHANGES.tasks, ['gpu']);
        await broker.assertQueue(spec);
        await Promise.all(Array.from({ length: 50 }, (_, i) => broker.publish(EXCHANGES.tasks, 'gpu', { i })));
        expect(await stats(broker, spec)).toEqual({ messages: 50, consumers: 0 });
      });

      it('round-trips JSON and never shares objects between publisher and consumer', async () => {
        const broker = await open();
        const spec = queue('json', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<Record<string, unknown>>();
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        const body = { s: 'héllo ✓ "quoted"', n: 1.5, neg: -3, t: true, nil: null, list: [1, 'two', { three: 3 }], nested: { deep: { er: [] } } };
        const sent = structuredClone(body);
        await broker.publish(EXCHANGES.tasks, 'default', sent);
        sent.nested.deep.er = ['mutated after publish' as never];
        const [msg] = await inbox.waitFor(1);
        expect(msg.body).toEqual(body);
        expect(msg.routingKey).toBe('default');
        expect(msg.redelivered).toBe(false);
        msg.ack();
      });

      it('marks a message published with resent (an outbox sweep\'s), and only that one', async () => {
        const broker = await open();
        const spec = queue('resent', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<{ i: number }>();
        await broker.consume(spec, inbox.handler, { prefetch: 5 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 1 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 2 }, { resent: true });
        const got = await inbox.waitFor(2);
        expect(got.map((m) => [m.body.i, m.resent === true, m.redelivered])).toEqual([[1, false, false], [2, true, false]]);
        for (const m of got) m.ack();
      });

      it('rejects a body that is not JSON-serialisable', async () => {
        const broker = await open();
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await expect(broker.publish(EXCHANGES.tasks, 'default', circular)).rejects.toThrow(TypeError);
      });
    });

    describe('consuming', () => {
      it('delivers messages of one queue in publish order', async () => {
        const broker = await open();
        const spec = queue('order', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<{ i: number }>((m) => m.ack());
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        await Promise.all(Array.from({ length: 100 }, (_, i) => broker.publish(EXCHANGES.tasks, 'default', { i })));
        await inbox.waitFor(100);
        expect(inbox.bodies.map((b) => b.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      });

      it('holds at most `prefetch` unacked messages per consumer', async () => {
        const broker = await open();
        const spec = queue('prefetch', EXCHANGES.tasks, ['default']);
        await broker.assertQueue(spec);
        for (let i = 0; i < 5; i++) await broker.publish(EXCHANGES.tasks, 'default', { i });
        const inbox = new Inbox<{ i: number }>();
        await broker.consume(spec, inbox.handler, { prefetch: 2 });
        await inbox.waitFor(2);
        // Ready count is exact in both brokers: 3 left means exactly 2 were handed out.
        await waitUntil('3 ready messages', async () => (await stats(broker, spec)).messages === 3);
        expect(inbox.bodies.map((b) => b.i)).toEqual([0, 1]);

        inbox.messages[0].ack();
        await inbox.waitFor(3);
        await waitUntil('2 ready messages', async () => (await stats(broker, spec)).messages === 2);
        expect(inbox.messages).toHaveLength(3);
      });

      it('redelivers a nack(true) message at the head of the queue with redelivered=true', async () => {
        const broker = await open();
        const spec = queue('requeue', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<{ i: number }>((m, box) => {
          if (box.messages.length === 1) m.nack(true);
          else m.ack();
        });
        await broker.assertQueue(spec);
        await broker.publish(EXCHANGES.tasks, 'default', { i: 1 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 2 });
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        await inbox.waitFor(3);
        expect(inbox.messages.map((m) => [m.body.i, m.redelivered])).toEqual([[1, false], [1, true], [2, false]]);
      });

      it('drops a nack(false) message', async () => {
        const broker = await open();
        const spec = queue('drop', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox((m) => m.nack(false));
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 1 });
        await inbox.waitFor(1);
        await waitUntil('queue empty', async () => (await stats(broker, spec)).messages === 0);
        // A probe published after the drop is the next delivery, so nothing was requeued.
        await broker.publish(EXCHANGES.tasks, 'default', { probe: true });
        await inbox.waitFor(2);
        expect(inbox.bodies).toEqual([{ i: 1 }, { probe: true }]);
      });

      it('refuses a second ack or nack of the same message', async () => {
        const broker = await open();
        const spec = queue('double-ack', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox();
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        await broker.publish(EXCHANGES.tasks, 'default', {});
        const [msg] = await inbox.waitFor(1);
        msg.ack();
        expect(() => msg.ack()).toThrow(MessageAlreadySettledError);
        expect(() => msg.nack(true)).toThrow('message with key "default" was already settled by ack(); settle each message once');
      });

      it('requeues once, then drops, a message whose handler throws without settling it', async () => {
        const broker = await open();
        const spec = queue('throws', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<{ poison?: boolean }>((m) => {
          if (m.body.poison) throw new Error('handler bug');
          m.ack();
        });
        await broker.consume(spec, inbox.handler, { prefetch: 1 });
        const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
        try {
          await broker.publish(EXCHANGES.tasks, 'default', { poison: true });
          await broker.publish(EXCHANGES.tasks, 'default', { poison: false });
          await inbox.waitFor(3);
          expect(inbox.messages.map((m) => [m.body.poison, m.redelivered])).toEqual([[true, false], [true, true], [false, false]]);
        } finally {
          errors.mockRestore();
        }
      });

      it('rejects a prefetch that is not a positive integer', async () => {
        const broker = await open();
        const spec = queue('bad-prefetch', EXCHANGES.tasks, ['default']);
        await expect(broker.consume(spec, () => undefined, { prefetch: 0 })).rejects.toThrow(RangeError);
      });
    });

    describe('competing consumers', () => {
      it('share one queue: each gets messages, none twice', async () => {
        const broker = await open();
        const spec = queue('compete', EXCHANGES.tasks, ['default']);
        const a = new Inbox<{ i: number }>();
        const b = new Inbox<{ i: number }>();
        await broker.consume(spec, a.handler, { prefetch: 1 });
        await broker.consume(spec, b.handler, { prefetch: 1 });
        for (let i = 0; i < 6; i++) await broker.publish(EXCHANGES.tasks, 'default', { i });
        // With prefetch 1 and nothing acked yet, each consumer holds exactly one.
        await a.waitFor(1);
        await b.waitFor(1);
        await waitUntil('4 ready', async () => (await stats(broker, spec)).messages === 4);
        expect(a.messages.length + b.messages.length).toBe(2);

        // Switch both to ack-on-arrival and release the two held messages.
        a.onMessage = (m) => m.ack();
        b.onMessage = (m) => m.ack();
        a.messages[0].ack();
        b.messages[0].ack();
        await waitUntil('all 6 delivered', () => a.messages.length + b.messages.length === 6);
        const all = [...a.bodies, ...b.bodies].map((x) => x.i).sort((x, y) => x - y);
        expect(all).toEqual([0, 1, 2, 3, 4, 5]);
        expect(a.messages.length).toBeGreaterThan(0);
        expect(b.messages.length).toBeGreaterThan(0);
      });
    });

    describe('pause, resume, cancel', () => {
      it('pause() stops deliveries (held messages stay ackable) and resume() restarts them', async () => {
        const broker = await open();
        const spec = queue('pause', EXCHANGES.tasks, ['default']);
        const inbox = new Inbox<{ i: number }>();
        const handle = await broker.consume(spec, inbox.handler, { prefetch: 5 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 0 });
        await inbox.waitFor(1);

        await handle.pause();
        await handle.pause();
        await broker.publish(EXCHANGES.tasks, 'default', { i: 1 });
        expect(await stats(broker, spec)).toEqual({ messages: 1, consumers: 0 });
        inbox.messages[0].ack();
        expect(await stats(broker, spec)).toEqual({ messages: 1, consumers: 0 });
        expect(inbox.messages).toHaveLength(1);

        await handle.resume();
        await handle.resume();
        await inbox.waitFor(2);
        expect(inbox.bodies).toEqual([{ i: 0 }, { i: 1 }]);
        inbox.messages[1].ack();
        expect(await stats(broker, spec)).toEqual({ messages: 0, consumers: 1 });
      });

      it('cancel() returns unacked messages to the queue, redelivered, and later acks are no-ops', async () => {
        const broker = await open();
        const spec = queue('cancel', EXCHANGES.tasks, ['default']);
        const first = new Inbox<{ i: number }>();
        const handle = await broker.consume(spec, first.handler, { prefetch: 2 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 1 });
        await broker.publish(EXCHANGES.tasks, 'default', { i: 2 });
        await first.waitFor(2);
        await handle.cancel();
        await waitUntil('2 ready after cancel', async () => (await stats(broker, spec)).messages === 2);
        expect(() => first.messages[0].ack()).not.toThrow();

        const second = new Inbox<{ i: number }>((m) => m.ack());
        await broker.consume(spec, second.handler, { prefetch: 2 });
        await second.waitFor(2);
        expect(second.messages.map((m) => [m.body.i, m.redelivered])).toEqual([[1, true], [2, true]]);
        expect(first.messages).toHaveLength(2);
      });
    });

    describe('queueStats', () => {
      it('counts ready messages and active consumers', async () => {
        const broker = await open();
        const spec = queue('stats', EXCHANGES.logs, ['log.#']);
        await broker.assertQueue(spec);
        await broker.assertQueue(spec);
        expect(await stats(broker, spec)).toEqual({ messages: 0, consumers: 0 });
        for (let i = 0; i < 3; i++) await broker.publish(EXCHANGES.logs, `log.ti${i}`, { i });
        expect(await stats(broker, spec)).toEqual({ messages: 3, consumers: 0 });

        const inbox = new Inbox((m) => m.ack());
        const handle = await broker.consume(spec, inbox.handler, { prefetch: 10 });
        await inbox.waitFor(3);
        await waitUntil('consumer counted, queue empty', async () => {
          const s = await stats(broker, spec);
          return s.messages === 0 && s.consumers === 1;
        });
        await handle.cancel();
        await waitUntil('consumer gone', async () => (await stats(broker, spec)).consumers === 0);
        expect(await stats(broker, spec)).toEqual({ messages: 0, consumers: 0 });
      });

      // `queues list` reads these: a draining worker (paused consumer) no longer counts, and
      // messages a consumer holds unacked are not "ready".
      it('counts neither delivered unacked messages as ready nor a paused consumer; a resumed one again', async () => {
        const broker = await open();
        const spec = queue('stats-paused', EXCHANGES.tasks, ['default']);
        await broker.assertQueue(spec);
        const inbox = new Inbox();
        const handle = await broker.consume(spec, inbox.handler, { prefetch: 2 });
        for (let i = 0; i < 3; i++) await broker.publish(EXCHANGES.tasks, 'default', { i });
        await inbox.waitFor(2);
        await waitUntil('two held, one ready, one consumer', async () => {
          const s = await stats(broker, spec);
          return s.messages === 1 && s.consumers === 1;
        });
        await handle.pause();
        await waitUntil('the paused consumer not counted', async () => (await stats(broker, spec)).consumers === 0);
        expect(await stats(broker, spec)).toEqual({ messages: 1, consumers: 0 });
        await handle.resume();
        await waitUntil('the resumed consumer counted', async () => (await stats(broker, spec)).consumers === 1);
        for (const m of inbox.messages.slice(0, 2)) m.ack();
        await inbox.waitFor(3);
        inbox.messages[2].ack();
        await handle.cancel();
      });

      it('rejects with QueueNotFoundError for an undeclared queue', async () => {
        const broker = await open();
        const error = await broker.queueStats(`contract.missing.${randomUUID()}`).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(QueueNotFoundError);
        // The broker stays usable after the failed lookup.
        const spec = queue('after-missing', EXCHANGES.tasks, ['default']);
        await broker.assertQueue(spec);
        expect(await stats(broker, spec)).toEqual({ messages: 0, consumers: 0 });
      });
    });

    describe('close', () => {
      it('waits for outstanding publishes, which all resolve', async () => {
        const broker = await open();
        const spec = queue('close', EXCHANGES.tasks, ['default']);
        await broker.assertQueue(spec);
        const publishes = Array.from({ length: 200 }, (_, i) => broker.publish(EXCHANGES.tasks, 'default', { i }));
        await withTimeout('close()', broker.close());
        const settled = await Promise.allSettled(publishes);
        expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(200);
      });
    });
  });
}
