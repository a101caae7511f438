import { Inject, Injectable, Logger, SetMetadata } from '@nestjs/common';
import type { AuditOutcome, AuditWrite, Caller } from '@swarmflow/core';
import type { Repositories } from '@swarmflow/persistence';
import { CLOCK, REPOSITORIES, type Clock } from '../tokens';

/** Metadata key of {@link Audit}. */
export const AUDIT_ACTION = 'swarmflow:auditAction';

/**
 * Names the audit action of a write route (`dag.trigger`, `worker.drain`). Every write
 * (anything but GET/HEAD/OPTIONS) is audited whether or not it carries this; without it the
 * action is the method and route (`post workers/:name/drain`). One line on a new route:
 * `@Audit('worker.drain')`.
 */
export const Audit = (action: string) => SetMetadata(AUDIT_ACTION, action);

/** What the auth guard keeps on each request (`req.swarmflow`). */
export interface RequestAuth {
  caller: Caller | null;
  /** Set by the guard for writes; a handler may refine it with {@link auditNote}. */
  audit?: { action: string; target: string | null; detail: Record<string, unknown>; actor?: string | null };
}

export interface AuthedRequest {
  method: string;
  path: string;
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
  route?: { path?: string };
  swarmflow?: RequestAuth;
}

/** The authenticated caller of a request (null on a public route called anonymously). */
export function callerOf(req: AuthedRequest): Caller | null {
  return req.swarmflow?.caller ?? null;
}

/**
 * Adds to the audit entry of this request: a clearer target (a user name, a variable key),
 * short non-secret details, or the actor of a request that had no caller yet (a login).
 * Never put a secret here: the audit log is read by admins and kept.
 */
export function auditNote(req: AuthedRequest, note: { target?: string | null; detail?: Record<string, unknown>; actor?: string | null }): void {
  const audit = req.swarmflow?.audit;
  if (!audit) return;
  if (note.target !== undefined) audit.target = note.target;
  if (note.detail) Object.assign(audit.detail, note.detail);
  if (note.actor !== undefined) audit.actor = note.actor;
}

/** Which outcome an HTTP status is. */
export function outcomeOf(status: number): AuditOutcome {
  if (status === 401 || status === 403 || status === 429) return 'denied';
  return status >= 400 ? 'failed' : 'ok';
}

/**
 * Writes audit entries. `record` never throws: an audit write that fails is logged (the
 * request it describes has already been answered).
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Records one entry; `at` defaults to now. */
  async record(entry: Omit<AuditWrite, 'at'> & { at?: Date }): Promise<void> {
    try {
      await this.repos.audit.append({ ...entry, at: entry.at ?? this.clock() });
    } catch (err) {
      this.logger.error(`could not write the audit entry for ${entry.action} on ${entry.target ?? '-'}: ${(err as Error).message}`);
    }
  }

  /** Records the request's entry (set up by the guard) with the status it was answered with. */
  recordRequest(req: AuthedRequest, status: number): Promise<void> {
    const audit = req.swarmflow?.audit;
    if (!audit) return Promise.resolve();
    const caller = req.swarmflow?.caller ?? null;
    return this.record({
      actor: audit.actor !== undefined ? audit.actor : caller?.user.name ?? null,
      method: caller?.method ?? null,
      action: audit.action,
      target: audit.target,
      outcome: outcomeOf(status),
      status,
      sourceIp: req.ip ?? req.socket.remoteAddress ?? null,
      detail: audit.detail,
    });
  }
}
