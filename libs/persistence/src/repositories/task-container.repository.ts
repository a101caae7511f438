import type { Database, Queryable } from '../database';

/** A container try's container, as its worker reported it once the container started (see the `task_container` table). */
export interface TaskContainerRow {
  tiId: number;
  tryNumber: number;
  containerId: string;
  /** The worker that started it. */
  worker: string;
  /** The image reference the try was given, and the digest that runs (null when the worker could not read it). */
  image: string | null;
  imageDigest: string | null;
  /** The GPU devices the worker gave it ([] = none). */
  gpuDevices: string[];
  /** The OCI runtime; null = Docker's default. */
  runtime: string | null;
  /** When the worker saw it start. */
  startedAt: Date;
}

function toRow(r: any): TaskContainerRow {
  return {
    tiId: Number(r.ti_id), tryNumber: r.try_number, containerId: r.container_id, worker: r.worker, image: r.image ?? null,
    imageDigest: r.image_digest ?? null, gpuDevices: String(r.gpu_devices).split(',').filter((d) => d !== ''), runtime: r.runtime ?? null,
    startedAt: new Date(r.started_at),
  };
}

/** Containers of running (and ended) container tries, reported when they start. */
export class TaskContainerRepository {
  constructor(private readonly db: Database) {}

  /**
   * Records started containers; a try's second report is a no-op, and one of a task instance
   * gone meanwhile is skipped. Each recorded row stamps its try's task instance with this
   * transaction (`change_xid`), so the live feed announces it and an open try page reloads.
   */
  async record(rows: readonly TaskContainerRow[], q: Queryable = this.db): Promise<void> {
    if (rows.length === 0) return;
    await q.query(
      `WITH added AS (
         INSERT INTO task_container (ti_id, try_number, container_id, worker, image, image_digest, gpu_devices, runtime, started_at)
         SELECT x.ti_id, x.try_number, x.container_id, x.worker, x.image, x.image_digest, x.gpu_devices, x.runtime, x.started_at
         FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
           AS x(ti_id, try_number, container_id, worker, image, image_digest, gpu_devices, runtime, started_at)
         WHERE EXISTS (SELECT 1 FROM task_instance t WHERE t.id = x.ti_id)
         ON CONFLICT (ti_id, try_number) DO NOTHING
         RETURNING ti_id, try_number)
       UPDATE task_instance t SET change_xid = pg_current_xact_id() FROM added a WHERE t.id = a.ti_id AND t.try_number = a.try_number`,
      [
        rows.map((r) => r.tiId), rows.map((r) => r.tryNumber), rows.map((r) => r.containerId), rows.map((r) => r.worker),
        rows.map((r) => r.image), rows.map((r) => r.imageDigest), rows.map((r) => r.gpuDevices.join(',')), rows.map((r) => r.runtime),
        rows.map((r) => r.startedAt),
      ],
    );
  }

  /** The containers of one task instance's tries, newest try first. */
  async forTaskInstance(tiId: number, q: Queryable = this.db): Promise<TaskContainerRow[]> {
    return (await q.query(`SELECT * FROM task_container WHERE ti_id = $1 ORDER BY try_number DESC`, [tiId])).map(toRow);
  }
}
