import type { ControlSigner, SignedControlEnvelope } from '@swarmflow/secrets';
import { z } from 'zod';

/**
 * Why a worker refused a control message without acting on it:
 * - `unsigned`: not a signed envelope (forged, or from an older scheduler or webserver);
 * - `bad_signature`: the signature does not match its content and routing key (forged, altered, re-routed, or another cluster key);
 * - `stale`: issued longer ago than {@link CONTROL_MESSAGE_MAX_AGE_MS} (or too far in the future);
 * - `replayed`: this worker has already had this very envelope;
 * - `malformed`: signed, but its content is not JSON;
 * - `no_key`: this worker has no cluster key to verify with.
 */
export type ControlRefusalReason = 'unsigned' | 'bad_signature' | 'stale' | 'replayed' | 'malformed' | 'no_key';

/** A control message the worker will not obey. */
export class ControlMessageRefusedError extends Error {
  override name = 'ControlMessageRefusedError';

  constructor(readonly reason: ControlRefusalReason, message: string) {
    super(message);
  }
}

/**
 * Control messages act at once (the queues they travel on live only while their worker is
 * connected): one older than this is refused, which bounds how long a copied one can be
 * replayed; within it, the worker refuses an envelope it has had before.
 */
export const CONTROL_MESSAGE_MAX_AGE_MS = 5 * 60_000;
/** A sender's clock may run this far ahead of the worker's. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const envelopeSchema = z.object({
  issuedAt: z.number().int().min(0),
  control: z.string().min(2),
  sig: z.string().min(1),
}) satisfies z.ZodType<SignedControlEnvelope>;

/**
 * A worker's door for `swarmflow.control`: verifies each message's signature (over its
 * issue time, routing key and content) before anything reads it, checks its age, and
 * remembers the signatures it accepted until they are too old to pass, so a copy is
 * refused. Counts refusals by reason.
 */
export class ControlInbox {
  /** Accepted signatures → when they stop passing the age check; oldest issued first (roughly). */
  private readonly seen = new Map<string, number>();
  private readonly refusals = new Map<ControlRefusalReason, number>();

  constructor(
    private readonly signer: ControlSigner | null,
    private readonly maxAgeMs = CONTROL_MESSAGE_MAX_AGE_MS,
  ) {}

  /**
   * The command a control message carries, parsed but not validated (the caller decodes it).
   * @throws ControlMessageRefusedError naming the reason; it is counted.
   */
  open(body: unknown, routingKey: string, nowMs: number): unknown {
    try {
      return this.verify(body, routingKey, nowMs);
    } catch (err) {
      if (err instanceof ControlMessageRefusedError) this.refusals.set(err.reason, (this.refusals.get(err.reason) ?? 0) + 1);
      throw err;
    }
  }

  /** Refused control messages by reason, for metrics and health. */
  refused(): Partial<Record<ControlRefusalReason, number>> {
    return Object.fromEntries(this.refusals);
  }

  private verify(body: unknown, routingKey: string, nowMs: number): unknown {
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) throw new ControlMessageRefusedError('unsigned', 'the message is not a signed control message (no issuedAt, control and sig)');
    const { issuedAt, control, sig } = envelope.data;
    if (!this.signer) {
      throw new ControlMessageRefusedError('no_key', 'this worker has no cluster key to verify control messages with: set SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE');
    }
    if (!this.signer.verify(issuedAt, routingKey, control, sig)) {
      throw new ControlMessageRefusedError('bad_signature',
        'its signature does not match: forged, altered or re-routed, or signed with another cluster key (give the scheduler, the webserver and the workers the same SWARMFLOW_CLUSTER_KEY)');
    }
    const age = nowMs - issuedAt;
    if (age > this.maxAgeMs || age < -FUTURE_TOLERANCE_MS) {
      throw new ControlMessageRefusedError('stale', age > 0
        ? `issued ${Math.round(age / 1000)} s ago, more than the ${Math.round(this.maxAgeMs / 1000)} s a control message may take`
        : `issued ${Math.round(-age / 1000)} s in the future: the sender's and this worker's clocks differ`);
    }
    this.forgetExpired(nowMs);
    if (this.seen.has(sig)) throw new ControlMessageRefusedError('replayed', 'this worker has had this very message before (a copy, replayed)');
    this.seen.set(sig, issuedAt + this.maxAgeMs);
    try {
      return JSON.parse(control);
    } catch {
      throw new ControlMessageRefusedError('malformed', 'signed, but its content is not JSON');
    }
  }

  private forgetExpired(nowMs: number): void {
    for (const [sig, until] of this.seen) {
      if (until < nowMs) this.seen.delete(sig);
    }
  }
}
