import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { EXCHANGES } from './broker';
import { BrokerContext, BrokerTransport } from './broker-transport';
import { MemoryBroker } from './memory-broker';
import { waitUntil } from './test-support/wait';

const seen: Array<{ key: string; body: unknown }> = [];

@Controller()
class Handlers {
  @EventPattern('worker.heartbeat')
  heartbeat(@Payload() body: { worker: string }, @Ctx() ctx: BrokerContext) {
    seen.push({ key: ctx.getMessage().routingKey, body });
  }

  @EventPattern('task.fails')
  fails() {
    throw new Error('bad message');
  }
}

@Module({ controllers: [Handlers] })
class TestModule {}

describe('BrokerTransport (@nestjs/microservices custom transport over a Broker)', () => {
  it('routes by routing key, acks after the handler, drops a failed message, acks an unrouted one', async () => {
    const broker = new MemoryBroker();
    await broker.start();
    const queue = { name: 'transport.test', exchange: EXCHANGES.events, bindings: ['worker.heartbeat', 'task.*'], durable: false };
    const transport = new BrokerTransport(broker, [{ queue, prefetch: 10 }]);
    const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
    const app = moduleRef.createNestMicroservice({ strategy: transport, logger: false });
    await app.listen();
    try {
      await broker.publish(EXCHANGES.events, 'worker.heartbeat', { worker: 'w1' });
      await broker.publish(EXCHANGES.events, 'task.fails', {});
      await broker.publish(EXCHANGES.events, 'task.unknown', {});
      await waitUntil('the heartbeat handled', async () => seen.length === 1 && transport.unrouted === 1);
      expect(seen).toEqual([{ key: 'worker.heartbeat', body: { worker: 'w1' } }]);
      await waitUntil('queue empty and nothing unacked', async () => (await broker.queueStats(queue.name)).messages === 0);
    } finally {
      await app.close();
      await broker.close();
    }
  });
});
