import { decideClaim, type ClaimDecision, type TaskClaimReply, type TaskClaimRequest, type WorkerHeartbeatRequest } from '@swarmflow/core';
import type { ControlSender } from '@swarmflow/messaging';
import type { Repositories } from '@swarmflow/persistence';
import { z } from 'zod';
import { endHoldCutoff } from '../handlers/log-completion.gate';

const claimSchema = z.object({
  type: z.literal('task.claim'), tiId: z.number().int().positive(), tryNumber: z.number().int().positive(),
  worker: z.string().min(1), at: z.string(),
});

/** A `task.claim` on the events queue, or null for any other event. Throws for a malformed claim. */
export function parseClaim(body: unknown): TaskClaimRequest | null {
  if (typeof body !== 'object' || body === null || (body as { type?: unknown }).type !== 'task.claim') return null;
  const r = claimSchema.safeParse(body);
  if (!r.success) throw new Error(`malformed task.claim: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as TaskClaimRequest;
}

interface Pending {
  claim: TaskClaimRequest;
  /** The `now` of the first iteration that began after the claim arrived; null until then. */
  at: Date | null;
}

/** How often, at most, workers are asked for a heartbeat while a claim waits on them. */
const HEARTBEAT_REQUEST_EVERY_MS = 250;

/**
 * Answers workers' claims of redelivered task messages (see decideClaim). A claim's time is
 * the `now` of the first iteration that began after it arrived: that iteration applied
 * every event received before the claim, and a heartbeat recorded later than it was
 * received after the claim. While a claim waits on workers, they are asked for a heartbeat
 * (`worker.heartbeat.request` to `worker.all`), so it is answered in a round trip, not a
 * heartbeat interval. Claims live in this scheduler's memory: if it dies, the worker's
 * wait times out and it gives the message back, to be claimed again.
 */
export class ClaimDesk {
  private readonly pending: Pending[] = [];
  /** The latest heartbeat this scheduler received from each worker: when, and the tries it held (delivered, not started). */
  private readonly heard = new Map<string, { at: number; held: Set<string> }>();
  private lastRequest = 0;

  constructor(
    private readonly repos: Repositories,
    private readonly control: ControlSender,
    private readonly onError: (msg: string) => void,
    private readonly log: (msg: string) => void,
    /** True while this scheduler holds the try's reported end for its log (it has ended). */
    private readonly heldEnd: (tiId: number, tryNumber: number) => boolean = () => false,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  /** A heartbeat arrived (`at`: this scheduler's clock). */
  heartbeat(worker: string, held: readonly { tiId: number; tryNumber: number }[] | undefined, at: number): void {
    if (this.pending.length === 0 && this.heard.size > 1000) this.heard.clear();
    this.heard.set(worker, { at, held: new Set((held ?? []).map((t) => `${t.tiId}:${t.tryNumber}`)) });
  }

  add(claim: TaskClaimRequest): void {
    this.pending.push({ claim, at: null });
  }

  /** An iteration begins at `now`: claims received before it are timed by it. */
  stamp(now: Date): void {
    for (const p of this.pending) p.at ??= now;
  }

  /** After a committed iteration: answers the claims that can be answered. */
  async decide(): Promise<void> {
    const ready = this.pending.filter((p) => p.at !== null);
    if (ready.length === 0) return;
    const tis = new Map((await this.repos.tis.byIds([...new Set(ready.map((p) => p.claim.tiId))])).map((t) => [t.id, t]));
    const workers = await this.repos.workers.list();
    // Ends held for their logs, by this scheduler or another (HA): those tries have ended.
    const heldAnywhere = await this.repos.logs.heldEnds(ready.map((p) => ({ tiId: p.claim.tiId, tryNumber: p.claim.tryNumber })), endHoldCutoff(new Date()));
    let waiting = false;
    for (const p of ready) {
      const ti = tis.get(p.claim.tiId);
      const decision: ClaimDecision = this.heldEnd(p.claim.tiId, p.claim.tryNumber) || heldAnywhere.has(`${p.claim.tiId}:${p.claim.tryNumber}`)
        ? { verdict: 'drop' as const, reason: 'it has ended (its end waits for its log to be stored)' }
        : decideClaim(p.claim, ti ? { state: ti.state, tryNumber: ti.tryNumber, worker: ti.worker } : null, workers, p.at!);
      if (decision.verdict === 'wait') {
        waiting = true;
        continue;
      }
      if (decision.verdict === 'run' && ti?.state === 'queued') {
        // A copy of the message may wait, not started, in another worker's buffer (its heartbeats
        // list it as held): this scheduler must have heard each since the claim, and none may hold it.
        const key = `${p.claim.tiId}:${p.claim.tryNumber}`;
        const others = workers.filter((w) => w.name !== p.claim.worker && (w.state === 'active' || w.state === 'draining' || w.state === 'stopping'));
        if (others.some((w) => (this.heard.get(w.name)?.at ?? 0) <= p.at!.getTime())) {
          waiting = true;
          continue;
        }
        const holder = others.find((w) => this.heard.get(w.name)!.held.has(key));
        if (holder) {
          decision.verdict = 'drop';
          decision.reason = `it waits on ${holder.name}`;
        }
      }
      this.pending.splice(this.pending.indexOf(p), 1);
      if (decision.verdict === 'drop') {
        this.log(`worker ${p.claim.worker} got task instance ${p.claim.tiId} try ${p.claim.tryNumber} again after a redelivery: dropped, ${decision.reason}`);
      }
      const reply: TaskClaimReply = {
        type: 'task.claim.reply', tiId: p.claim.tiId, tryNumber: p.claim.tryNumber, verdict: decision.verdict, reason: decision.reason,
      };
      this.control.send(`worker.${p.claim.worker}`, reply).catch((err: unknown) =>
        this.onError(`could not answer ${p.claim.worker}'s claim of task instance ${p.claim.tiId}: ${(err as Error).message}`));
    }
    if (waiting && Date.now() - this.lastRequest >= HEARTBEAT_REQUEST_EVERY_MS) {
      this.lastRequest = Date.now();
      const request: WorkerHeartbeatRequest = { type: 'worker.heartbeat.request' };
      this.control.send('worker.all', request).catch(() => undefined);
    }
  }
}
