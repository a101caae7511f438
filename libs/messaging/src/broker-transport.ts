import { BaseRpcContext, CustomTransportStrategy, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import type { Broker, BrokerMessage, ConsumerHandle, QueueSpec } from './broker';

/** The handler's view of one delivery: the message, settled by the transport unless the handler settled it. */
export class BrokerContext extends BaseRpcContext<[BrokerMessage, string]> {
  /** The delivery (body, routing key, redelivered; ack/nack for a handler that settles it itself). */
  getMessage(): BrokerMessage {
    return this.args[0];
  }

  getQueue(): string {
    return this.args[1];
  }
}

export interface BrokerSubscription {
  queue: QueueSpec;
  /** Unacked messages held at once (manual acks). */
  prefetch: number;
}

/**
 * A `@nestjs/microservices` custom transport over a {@link Broker}: `@EventPattern('<routing
 * key>')` handlers receive the messages of the subscribed queues by routing key (an exact key
 * first, then `#` as a catch-all). Acks are manual and follow the handler: resolved → ack;
 * thrown → nack without requeue (dropped, or dead-lettered where the queue has a DLX), unless
 * the handler settled the message itself through {@link BrokerContext}. A message no handler
 * matches is acked and counted in `unrouted`. Publishing stays on the Broker (publisher
 * confirms): this transport only consumes.
 */
export class BrokerTransport extends Server implements CustomTransportStrategy {
  private readonly consumers: ConsumerHandle[] = [];
  /** Messages no handler matched (acked so they do not block the queue). */
  unrouted = 0;

  constructor(private readonly broker: Broker, private readonly subscriptions: readonly BrokerSubscription[]) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const s of this.subscriptions) {
        this.consumers.push(await this.broker.consume(s.queue, (m) => this.deliver(s.queue.name, m), { prefetch: s.prefetch }));
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.splice(0).map((c) => c.cancel().catch(() => undefined)));
  }

  on(): never {
    throw new Error('BrokerTransport reports broker status through Broker.onStatus, not Server.on');
  }

  unwrap<T>(): T {
    return this.broker as T;
  }

  private async deliver(queue: string, message: BrokerMessage): Promise<void> {
    let settled = false;
    const tracked: BrokerMessage = {
      ...message,
      ack: () => { settled = true; message.ack(); },
      nack: (requeue) => { settled = true; message.nack(requeue); },
    };
    const handler = this.getHandlerByPattern(message.routingKey) ?? this.getHandlerByPattern('#');
    if (!handler) {
      this.unrouted += 1;
      message.ack();
      return;
    }
    try {
      const result = await handler(message.body, new BrokerContext([tracked, queue]));
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      if (!settled) message.ack();
    } catch (error) {
      this.logger.error(`handler of ${message.routingKey} on ${queue} failed, message dropped: ${(error as Error)?.message ?? error}`);
      if (!settled) message.nack(false);
    }
  }
}
