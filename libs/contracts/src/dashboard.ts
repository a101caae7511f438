import { z } from 'zod';

/**
 * The worker dashboard's reads beyond `/workers` and `/queues`: every try across DAGs
 * (`GET /api/v1/tries`) and the queue depths over time (`GET /api/v1/queues/history`).
 */

/** The query of `GET /api/v1/tries`: every filter optional; times are ISO-8601. */
export const TriesQuerySchema = z.object({
  /** Comma-separated task instance states. */
  state: z.string().regex(/^[a-z_]+(,[a-z_]+)*$/, 'a comma-separated list of task instance states').optional(),
  queue: z.string().min(1).max(250).optional(),
  worker: z.string().min(1).max(250).optional(),
  dag: z.string().min(1).max(250).optional(),
  /** The try started (or, not started yet, was queued) at or after this time. */
  since: z.iso.datetime({ offset: true }).optional(),
  /** … and before this time. */
  until: z.iso.datetime({ offset: true }).optional(),
  /** Page size, 1–500 (default 50). */
  limit: z.coerce.number().int().min(1).max(500).optional(),
  /** Rows to skip (default 0). */
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
}).strict();
export type TriesQuery = z.infer<typeof TriesQuerySchema>;

/** One try of a task instance (its latest or an earlier one: `tryNumber`), as the tries table shows it. */
export const TryRowSchema = z.object({
  tiId: z.number().int(),
  dagId: z.string(),
  runId: z.string(),
  taskId: z.string(),
  state: z.string(),
  tryNumber: z.number().int(),
  maxTries: z.number().int(),
  queue: z.string(),
  worker: z.string().nullable(),
  hostname: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  reason: z.string().nullable(),
  queuedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  /** endedAt − startedAt, or now − startedAt while it runs; null before it starts. */
  durationSeconds: z.number().nullable(),
});
export type TryRow = z.infer<typeof TryRowSchema>;

export const TriesPageSchema = z.object({
  items: z.array(TryRowSchema),
  /** Rows matching the filters, all pages. */
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});
export type TriesPage = z.infer<typeof TriesPageSchema>;

/** The query of `GET /api/v1/queues/history`. */
export const QueueHistoryQuerySchema = z.object({
  /** How far back, in minutes (default 60, at most 1440: the samples kept). */
  minutes: z.coerce.number().int().min(1).max(1440).optional(),
  queue: z.string().min(1).max(250).optional(),
}).strict();
export type QueueHistoryQuery = z.infer<typeof QueueHistoryQuerySchema>;

/** One queue topic's depth at one sample time. */
export const QueueSampleSchema = z.object({
  at: z.string(),
  queue: z.string(),
  /** Messages waiting in the broker (RabbitMQ's "ready"). */
  ready: z.number().int(),
  /** Messages held by workers, unacked (from their heartbeats). */
  unacked: z.number().int(),
  consumers: z.number().int(),
  /** Task instances `queued` / `running` on this topic in the database. */
  queued: z.number().int(),
  running: z.number().int(),
});
export type QueueSample = z.infer<typeof QueueSampleSchema>;

export const QueueHistorySchema = z.object({
  /** Seconds between two samples. */
  intervalSeconds: z.number().int(),
  /** The window the samples are from, by the server's clock: `minutes` back from `to` (now). */
  from: z.string(),
  to: z.string(),
  samples: z.array(QueueSampleSchema),
});
export type QueueHistory = z.infer<typeof QueueHistorySchema>;
