import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ClusterKey } from './cluster-key';

/** HKDF label of the task-message signing key: a key of its own, not the one that encrypts secrets. */
export const TASK_SIGNING_LABEL = 'swarmflow/task-message-signing/v1';

const SIG_BYTES = 32;

/**
 * Signs and verifies task messages with HMAC-SHA256 under a key derived from the cluster
 * key (HKDF, {@link TASK_SIGNING_LABEL}). What is signed is `<issuedAt>.<message JSON>`,
 * the exact text the worker parses, so nothing is serialized twice and what is verified is
 * what runs. Symmetric on purpose: every worker holds the cluster key already (it opens the
 * secrets of the tasks it runs); see docs/DESIGN.md, "Task messages are signed".
 */
export class TaskSigner {
  private readonly key: Buffer;

  constructor(clusterKey: ClusterKey) {
    this.key = clusterKey.deriveKey(TASK_SIGNING_LABEL);
  }

  /** The signature of `message` issued at `issuedAt` (ms since the epoch), base64. */
  sign(issuedAt: number, message: string): string {
    return this.mac(issuedAt, message).toString('base64');
  }

  /** True when `sig` is the signature of `message` issued at `issuedAt` (constant-time compare). */
  verify(issuedAt: number, message: string, sig: string): boolean {
    const given = Buffer.from(sig, 'base64');
    if (given.length !== SIG_BYTES) return false;
    return timingSafeEqual(given, this.mac(issuedAt, message));
  }

  private mac(issuedAt: number, message: string): Buffer {
    return createHmac('sha256', this.key).update(`${issuedAt}.`).update(message, 'utf8').digest();
  }
}

/**
 * The additional data a task message's sealed value is bound to: what it is (a mounted
 * variable or the registry credentials), the variable's key, the task instance and the try.
 * A ciphertext sealed for one of them opens for no other.
 */
export function taskSecretContext(purpose: 'secret' | 'registry', variable: string, tiId: number, tryNumber: number): string {
  return `swarmflow/${purpose}\u0000${variable}\u0000${tiId}\u0000${tryNumber}`;
}
