import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ClusterKey } from './cluster-key';

/** HKDF label of the control-message signing key: independent of the task-signing and secret keys. */
export const CONTROL_SIGNING_LABEL = 'swarmflow/control-message-signing/v1';

const SIG_BYTES = 32;

/** A control message as it travels on `swarmflow.control`: the command's JSON, when it was issued, and the signature. */
export interface SignedControlEnvelope {
  /** ms since the epoch, by the sender's clock; signed. Workers refuse old ones. */
  issuedAt: number;
  /** The command (a ControlMessage, a claim reply, a heartbeat request), JSON. */
  control: string;
  /** HMAC-SHA256 of `<issuedAt>.<routing key>.<control>`, base64. */
  sig: string;
}

/**
 * Signs and verifies control messages (cancel, drain, shutdown, resume, claim replies,
 * heartbeat requests) with HMAC-SHA256 under a key derived from the cluster key (HKDF,
 * {@link CONTROL_SIGNING_LABEL}). The routing key is signed too, so a command signed for
 * one worker cannot be re-routed to another. See docs/DESIGN.md, "Control messages are signed".
 */
export class ControlSigner {
  private readonly key: Buffer;

  constructor(clusterKey: ClusterKey) {
    this.key = clusterKey.deriveKey(CONTROL_SIGNING_LABEL);
  }

  /** The envelope to publish `command` in, to `routingKey`, issued at `issuedAt` (ms since the epoch). */
  envelope(routingKey: string, command: object, issuedAt: number): SignedControlEnvelope {
    const control = JSON.stringify(command);
    return { issuedAt, control, sig: this.mac(issuedAt, routingKey, control).toString('base64') };
  }

  /**
   * True when `sig` signs `control` issued at `issuedAt` for `routingKey` (constant-time
   * compare). Only the canonical base64 spelling passes: Node's decoder ignores padding and
   * stray characters, and workers refuse replays by the signature as given.
   */
  verify(issuedAt: number, routingKey: string, control: string, sig: string): boolean {
    const given = Buffer.from(sig, 'base64');
    if (given.length !== SIG_BYTES || given.toString('base64') !== sig) return false;
    return timingSafeEqual(given, this.mac(issuedAt, routingKey, control));
  }

  private mac(issuedAt: number, routingKey: string, control: string): Buffer {
    return createHmac('sha256', this.key).update(`${issuedAt}.${routingKey}.`).update(control, 'utf8').digest();
  }
}
