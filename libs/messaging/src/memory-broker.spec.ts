import { describeBrokerContract } from './broker.contract';
import { EXCHANGES, taskQueue } from './broker';
import { MemoryBroker } from './memory-broker';
import { topicMatches } from './topic';
import { Inbox } from './test-support/wait';

describeBrokerContract('MemoryBroker', async () => new MemoryBroker({ prefix: 'test.' }));

describe('topicMatches', () => {
  it.each([
    ['a.b', 'a.b', true],
    ['a.b', 'a.b.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*', '', false],
    ['#', '', true],
    ['#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['#.c', 'c', true],
    ['#.c', 'a.b.c', true],
    ['#.c', 'a.b.c.d', false],
    ['a.#.c', 'a.c', true],
    ['a.#.c', 'a.x.y.c', true],
    ['a.#.#.c', 'a.c', true],
    ['#.*.#', '', false],
    ['#.*.#', 'x', true],
    ['*.*', 'a..', false],
    ['a..b', 'a..b', true],
  ])('%s vs %s → %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });
});

describe('MemoryBroker specifics', () => {
  it('never delivers inside publish(): the handler runs after publish returns', async () => {
    const broker = new MemoryBroker();
    await broker.start();
    const order: string[] = [];
    await broker.consume(taskQueue('default'), (m) => { order.push('handler'); m.ack(); }, { prefetch: 1 });
    const published = broker.publish(EXCHANGES.tasks, 'default', {});
    order.push('publish returned');
    await published;
    const inbox = new Inbox((m) => m.ack());
    await broker.consume(taskQueue('probe'), inbox.handler, { prefetch: 1 });
    await broker.publish(EXCHANGES.tasks, 'probe', {});
    await inbox.waitFor(1);
    expect(order).toEqual(['publish returned', 'handler']);
    await broker.close();
  });

  it('deletes an exclusive queue on close and an autoDelete queue when its last consumer goes', async () => {
    const broker = new MemoryBroker();
    await broker.start();
    const exclusive = { name: 'x', exchange: EXCHANGES.control, bindings: ['worker.all'], exclusive: true };
    const autoDelete = { name: 'ad', exchange: EXCHANGES.control, bindings: ['worker.all'], autoDelete: true };
    await broker.assertQueue(exclusive);
    const handle = await broker.consume(autoDelete, () => undefined, { prefetch: 1 });
    await handle.cancel();
    await expect(broker.queueStats('ad')).rejects.toThrow('queue "ad" does not exist');
    await broker.close();
    await expect(broker.queueStats('x')).rejects.toThrow('queue "x" does not exist');
  });
});
