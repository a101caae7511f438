import { EXCHANGES, type Broker } from './broker';

/** What signs a control message: {@link ControlSigner} of `@swarmflow/secrets`. */
export interface ControlEnvelopeSigner {
  envelope(routingKey: string, command: object, issuedAt: number): object;
}

/** A control message cannot be sent: the sender has no cluster key to sign it with. */
export class NoControlKeyError extends Error {
  override name = 'NoControlKeyError';
  readonly retryable = false;

  constructor(readonly command: string) {
    super(`cannot send ${command} to the workers: control messages are signed with a key derived from the cluster key, and this process has none. ` +
      'Set SWARMFLOW_CLUSTER_KEY (or SWARMFLOW_CLUSTER_KEY_FILE) to the same key as on the schedulers and workers, and restart it');
  }
}

/**
 * Publishes commands to workers on `swarmflow.control` (routing key `worker.<name>` or
 * `worker.all`), each signed for its routing key; workers refuse unsigned ones.
 */
export class ControlSender {
  constructor(
    private readonly broker: Broker,
    private readonly signer: ControlEnvelopeSigner | null,
    private readonly clock: () => number = Date.now,
  ) {}

  /** @throws NoControlKeyError when there is no signer: check before a change that a command must follow. */
  assertCanSign(command: string): void {
    if (!this.signer) throw new NoControlKeyError(command);
  }

  /** @throws NoControlKeyError (without publishing) when there is no signer; the broker's errors otherwise. */
  async send<T extends { type: string }>(routingKey: string, command: T): Promise<void> {
    if (!this.signer) throw new NoControlKeyError(command.type);
    await this.broker.publish(EXCHANGES.control, routingKey, this.signer.envelope(routingKey, command, this.clock()));
  }
}
