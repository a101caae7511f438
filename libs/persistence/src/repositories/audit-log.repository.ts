import type { AuditEntry, AuditWrite } from '@swarmflow/core';
import type { Database, Queryable } from '../database';

function toEntry(r: any): AuditEntry {
  return {
    id: Number(r.id), at: new Date(r.at), actor: r.actor, method: r.method, action: r.action, target: r.target,
    outcome: r.outcome, status: r.status, sourceIp: r.source_ip, detail: r.detail ?? {},
  };
}

/** The audit log: append-only, read newest first. The caller keeps secrets out of it. */
export class AuditLogRepository {
  constructor(private readonly db: Database) {}

  async append(entry: AuditWrite, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO audit_log (at, actor, method, action, target, outcome, status, source_ip, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [entry.at, entry.actor, entry.method, entry.action, entry.target, entry.outcome, entry.status, entry.sourceIp, JSON.stringify(entry.detail)],
      'audit_log_append',
    );
  }

  /** Entries at or after `since` (all when null), newest first, at most `limit`. */
  async list(filter: { since?: Date | null; limit: number; actor?: string; action?: string }, q: Queryable = this.db): Promise<AuditEntry[]> {
    const rows = await q.query(
      `SELECT id, at, actor, method, action, target, outcome, status, source_ip, detail FROM audit_log
       WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)
       ORDER BY at DESC, id DESC LIMIT $4`,
      [filter.since ?? null, filter.actor ?? null, filter.action ?? null, filter.limit],
    );
    return rows.map(toEntry);
  }

  /**
   * Deletes at most `limit` entries older than `before`, oldest first (one short statement:
   * the caller repeats it until it deletes fewer than `limit`). Returns how many it deleted.
   */
  async prune(before: Date, limit: number, q: Queryable = this.db): Promise<number> {
    const [row] = await q.query(
      `WITH gone AS (
         DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at, id LIMIT $2) RETURNING 1
       ) SELECT count(*)::int AS n FROM gone`,
      [before, limit],
    );
    return Number(row.n);
  }
}
