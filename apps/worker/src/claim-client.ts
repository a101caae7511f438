import type { TaskClaimReply, TaskClaimRequest } from '@swarmflow/core';
import { EXCHANGES, type Broker } from '@swarmflow/messaging';

/** What a claim came to: run the try, drop its message, or (no answer in time) give the message back. */
export type ClaimAnswer = { verdict: 'run' } | { verdict: 'drop'; reason: string } | { verdict: 'unanswered' };

/** Longest a worker waits for the scheduler's answer to a claim before giving the message back. Default. */
export const DEFAULT_CLAIM_TIMEOUT_MS = 30_000;

/**
 * A worker's side of claims (see decideClaim in the core): asks the scheduler, on the
 * events exchange, whether to run a try whose message came redelivered, and takes the
 * answers that come back on the worker's control queue.
 */
export class ClaimClient {
  private readonly waiting = new Map<string, Array<(answer: ClaimAnswer) => void>>();

  constructor(
    private readonly broker: Broker,
    private readonly worker: string,
    private readonly timeoutMs = DEFAULT_CLAIM_TIMEOUT_MS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Asks; resolves with the answer, or `unanswered` after the timeout or when the claim cannot be sent. */
  claim(tiId: number, tryNumber: number): Promise<ClaimAnswer> {
    const key = `${tiId}:${tryNumber}`;
    return new Promise<ClaimAnswer>((resolve) => {
      const timer = setTimeout(() => settle({ verdict: 'unanswered' }), this.timeoutMs);
      const settle = (answer: ClaimAnswer): void => {
        clearTimeout(timer);
        const list = this.waiting.get(key);
        if (list) {
          list.splice(list.indexOf(settle), 1);
          if (list.length === 0) this.waiting.delete(key);
        }
        resolve(answer);
      };
      const list = this.waiting.get(key);
      if (list) list.push(settle);
      else this.waiting.set(key, [settle]);
      const request: TaskClaimRequest = { type: 'task.claim', tiId, tryNumber, worker: this.worker, at: this.now().toISOString() };
      this.broker.publish(EXCHANGES.events, 'task.claim', request).catch(() => settle({ verdict: 'unanswered' }));
    });
  }

  /** Takes a control message if it is a claim's answer (true), else leaves it (false). */
  onControl(body: unknown): boolean {
    if (!isReply(body)) return false;
    for (const settle of [...(this.waiting.get(`${body.tiId}:${body.tryNumber}`) ?? [])]) {
      settle(body.verdict === 'run' ? { verdict: 'run' } : { verdict: 'drop', reason: body.reason ?? 'the scheduler said so' });
    }
    return true;
  }

  /** Answers every waiting claim `unanswered` (the worker stops). */
  abandon(): void {
    for (const list of [...this.waiting.values()]) for (const settle of [...list]) settle({ verdict: 'unanswered' });
  }
}

function isReply(body: unknown): body is TaskClaimReply {
  const b = body as Partial<TaskClaimReply> | null;
  return typeof b === 'object' && b !== null && b.type === 'task.claim.reply' && Number.isInteger(b.tiId) &&
    Number.isInteger(b.tryNumber) && (b.verdict === 'run' || b.verdict === 'drop');
}
