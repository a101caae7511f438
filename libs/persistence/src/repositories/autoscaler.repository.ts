import { Client } from 'pg';
import type { Database } from '../database';

/** One autoscaler decision for one group, with the inputs it was made from. */
export interface AutoscalerDecisionRecord {
  id: number;
  at: Date;
  group: string;
  provider: string;
  /** up | down | hold | drain (a scale-in step: workers drained, resumed or removed). */
  action: string;
  currentReplicas: number;
  desiredReplicas: number;
  targetReplicas: number;
  backlog: number;
  running: number;
  unplaceable: number;
  reason: string;
  /** Workers drained, resumed or removed; provider errors. */
  detail: Record<string, unknown>;
  /** The autoscaler instance that decided. */
  leader: string;
}

export type AutoscalerDecisionWrite = Omit<AutoscalerDecisionRecord, 'id'>;

function toRecord(r: any): AutoscalerDecisionRecord {
  return {
    id: Number(r.id), at: new Date(r.at), group: r.group, provider: r.provider, action: r.action,
    currentReplicas: r.current_replicas, desiredReplicas: r.desired_replicas, targetReplicas: r.target_replicas,
    backlog: r.backlog, running: r.running, unplaceable: r.unplaceable, reason: r.reason, detail: r.detail ?? {}, leader: r.leader,
  };
}

const COLUMNS = `id, at, "group", provider, action, current_replicas, desired_replicas, target_replicas, backlog, running, unplaceable, reason, detail, leader`;

/** The autoscaler's decision history: append-only, read newest first. */
export class AutoscalerRepository {
  constructor(private readonly db: Database) {}

  async record(d: AutoscalerDecisionWrite): Promise<void> {
    await this.db.query(
      `INSERT INTO autoscaler_decision (at, "group", provider, action, current_replicas, desired_replicas, target_replicas, backlog, running, unplaceable, reason, detail, leader)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [d.at, d.group, d.provider, d.action, d.currentReplicas, d.desiredReplicas, d.targetReplicas, d.backlog, d.running, d.unplaceable, d.reason, JSON.stringify(d.detail), d.leader],
      'autoscaler_decision_record',
    );
  }

  /** Decisions newest first, of one group or all, at most `limit`. */
  async history(filter: { group?: string | null; limit: number }): Promise<AutoscalerDecisionRecord[]> {
    const rows = await this.db.query(
      `SELECT ${COLUMNS} FROM autoscaler_decision WHERE ($1::text IS NULL OR "group" = $1) ORDER BY at DESC, id DESC LIMIT $2`,
      [filter.group ?? null, filter.limit],
    );
    return rows.map(toRecord);
  }

  /**
   * Queued task tries on `queues` whose container asks for more GPUs than a worker of the
   * group has (`gpusPerWorker`): no replica the autoscaler adds could run them.
   */
  async unplaceable(queues: readonly string[], gpusPerWorker: number): Promise<number> {
    const rows = await this.db.query(
      `SELECT count(*)::int AS n FROM task_instance ti
         JOIN dag_run r ON r.id = ti.run_pk
         JOIN dag_version v ON v.dag_id = r.dag_id AND v.version_hash = r.version_hash
         CROSS JOIN LATERAL jsonb_array_elements(v.serialized->'tasks') t
       WHERE ti.state = 'queued' AND ti.queue = ANY($1) AND t->>'id' = ti.task_id
         AND COALESCE((t->'docker'->>'gpus')::int, 0) > $2`,
      [[...queues], gpusPerWorker],
    );
    return rows[0]?.n ?? 0;
  }

  /** The latest decision of each group, by group name. */
  async latest(): Promise<AutoscalerDecisionRecord[]> {
    const rows = await this.db.query(
      `SELECT DISTINCT ON ("group") ${COLUMNS} FROM autoscaler_decision ORDER BY "group", at DESC, id DESC`,
    );
    return rows.map(toRecord);
  }
}

/** Key of the autoscaler leader's session advisory lock. */
const AUTOSCALER_LOCK = [7_366_142, 1] as const;

/**
 * Which autoscaler leads: the one holding a session-level advisory lock on a connection of
 * its own. A leader that dies (even by SIGKILL) or loses its connection loses the lock at
 * once, so another takes over on its next try (a second or two), with no lease to expire.
 * Several autoscalers can point at one database; only the holder acts.
 */
export class AutoscalerLease {
  private client: Client | null = null;

  constructor(private readonly url: string) {}

  /** True while this instance leads; tries to take the lead when it does not. Never throws. */
  async lead(): Promise<boolean> {
    if (this.client) {
      try {
        await this.client.query('SELECT 1');
        return true;
      } catch {
        await this.release();
      }
    }
    const client = new Client({ connectionString: this.url });
    client.on('error', () => { if (this.client === client) this.client = null; });
    try {
      await client.connect();
      const rows = (await client.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [...AUTOSCALER_LOCK])).rows;
      if (rows[0].ok) {
        this.client = client;
        return true;
      }
    } catch {
      // the database is unreachable: not leading
    }
    await client.end().catch(() => undefined);
    return false;
  }

  /** Gives the lead up (closing its connection frees the lock). */
  async release(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
