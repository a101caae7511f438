/**
 * Errors raised by the brokers. Each says whether retrying the same call later can
 * succeed (`retryable`), so callers branch on a field rather than on a message.
 */
export abstract class BrokerError extends Error {
  abstract readonly retryable: boolean;
}

/** Lifecycle of a broker; an illegal call names the state it was made in. */
export type BrokerState =
  /** Constructed, `start()` not called yet. */
  | 'idle'
  /** `start()` is connecting and declaring the exchanges. */
  | 'starting'
  /** Connected; publishes and deliveries flow. */
  | 'connected'
  /** Connection lost (AMQP only); publishes wait, consumers are re-created on recovery. */
  | 'reconnecting'
  /** `close()` is waiting for outstanding confirms. */
  | 'closing'
  /** Closed for good; a new instance is needed. */
  | 'closed';

/** A call that the broker's current lifecycle state does not allow (e.g. publish before start). */
export class BrokerStateError extends BrokerError {
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly state: BrokerState,
  ) {
    super(`cannot ${operation}: broker is ${state}${state === 'idle' ? ' (call start() first)' : ''}`);
    this.name = 'BrokerStateError';
  }
}

/** The broker refused a published message (basic.nack); re-publishing may succeed. */
export class PublishNackedError extends BrokerError {
  readonly retryable = true;
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    reason = 'the broker nacked the message',
  ) {
    super(`publish to ${exchange} with key "${routingKey}" failed: ${reason}`);
    this.name = 'PublishNackedError';
  }
}

/** The broker is not connected right now (AMQP, during a reconnect); retry later. */
export class BrokerUnavailableError extends BrokerError {
  readonly retryable = true;
  constructor(readonly operation: string) {
    super(`cannot ${operation}: broker connection is down, reconnecting`);
    this.name = 'BrokerUnavailableError';
  }
}

/** queueStats() of a queue that was never declared (or was deleted). */
export class QueueNotFoundError extends BrokerError {
  readonly retryable = false;
  constructor(readonly queue: string) {
    super(`queue "${queue}" does not exist; declare it with assertQueue() first`);
    this.name = 'QueueNotFoundError';
  }
}

/**
 * ack()/nack() called twice on one message. RabbitMQ would close the channel for it
 * (PRECONDITION_FAILED, unknown delivery tag), so both brokers refuse it up front.
 */
export class MessageAlreadySettledError extends BrokerError {
  readonly retryable = false;
  constructor(
    readonly routingKey: string,
    readonly settledAs: 'ack' | 'nack',
  ) {
    super(`message with key "${routingKey}" was already settled by ${settledAs}(); settle each message once`);
    this.name = 'MessageAlreadySettledError';
  }
}
