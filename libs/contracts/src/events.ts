import { z } from 'zod';

/**
 * The live feed of `GET /api/v1/events` (server-sent events), shared by the webserver that
 * sends it and the UI that reads it. Each SSE message has `event:` = the `type` below, `id:`
 * = a resume point, and `data:` = one JSON object parsed by {@link LiveEventSchema}.
 *
 * Events are snapshots, not deltas: a `ti` event carries the task instance's whole current
 * state, so a client that sees two events for one key keeps the one with the larger `seq`
 * (the database's change sequence, a decimal string) and a missed intermediate state (queued
 * then running between two polls) is simply not sent. After a reconnect, the browser's
 * EventSource sends `Last-Event-ID` and the server replays what changed since; when it
 * cannot (the gap is too large or the id unknown) it sends `resync`: refetch the views.
 *
 * Query parameters of the stream narrow it: `dag` (a DAG id), `run` (a run id, with `dag`),
 * `types` (comma-separated among `ti,run,worker,dag`). `hello` and `resync` always come.
 */

/** A change sequence: a decimal string (64-bit; compare with {@link compareSeq}). */
export const SeqSchema = z.string().regex(/^\d+$/);

/** A task instance changed state or try (also sent when it is created). */
export const TiEventSchema = z.object({
  type: z.literal('ti'),
  seq: SeqSchema,
  dagId: z.string(),
  runId: z.string(),
  taskId: z.string(),
  /** One of the task instance states (none, scheduled, queued, running, success, failed, up_for_retry, skipped, upstream_failed, removed, cached). */
  state: z.string(),
  tryNumber: z.number().int(),
  maxTries: z.number().int(),
  queue: z.string(),
  worker: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

/** A DAG run changed state (also sent when it is created). */
export const RunEventSchema = z.object({
  type: z.literal('run'),
  seq: SeqSchema,
  dagId: z.string(),
  runId: z.string(),
  /** queued, running, success, failed. */
  state: z.string(),
  runType: z.string(),
  logicalDate: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

/** A worker heartbeated or changed state (drain, stop, lost). */
export const WorkerEventSchema = z.object({
  type: z.literal('worker'),
  seq: SeqSchema,
  name: z.string(),
  hostname: z.string(),
  /** active, draining, stopping, stopped, lost. */
  state: z.string(),
  queues: z.array(z.string()),
  /** Slots in all. */
  slots: z.number().int(),
  /** Tries running on it: slots used. */
  running: z.array(z.object({ tiId: z.number().int(), tryNumber: z.number().int() })),
  gpus: z.number().int(),
  processed: z.number().int(),
  failed: z.number().int(),
  lastHeartbeatAt: z.string(),
});

/**
 * A DAG was added, changed (a new version, file or schedule), removed (inactive: no file
 * defines it any more), paused or unpaused; or, with `dagId` null, the import errors of the
 * DAGs folder changed (a file broke, was fixed, or its error is another). A client refetches
 * its DAG list or import errors.
 */
export const DagEventSchema = z.object({
  type: z.literal('dag'),
  seq: SeqSchema,
  /** The DAG; null for a change of the import errors (the other fields are null then too). */
  dagId: z.string().nullable(),
  isPaused: z.boolean().nullable(),
  /** false: no DAG file defines it any more. */
  isActive: z.boolean().nullable(),
  latestVersion: z.string().nullable(),
});

/** First message of every connection: where the stream starts. */
export const HelloEventSchema = z.object({
  type: z.literal('hello'),
  seq: SeqSchema,
  /** true: the server replayed what changed since the client's `Last-Event-ID`. */
  resumed: z.boolean(),
});

/** The client may have missed changes it cannot be told one by one: refetch what is shown. */
export const ResyncEventSchema = z.object({
  type: z.literal('resync'),
  seq: SeqSchema,
  /** Why, for logs: `unknown_last_event_id`, `too_many_changes`, `lagging`. */
  reason: z.string(),
});

export const LiveEventSchema = z.discriminatedUnion('type', [
  TiEventSchema, RunEventSchema, WorkerEventSchema, DagEventSchema, HelloEventSchema, ResyncEventSchema,
]);

export type TiEvent = z.infer<typeof TiEventSchema>;
export type RunEvent = z.infer<typeof RunEventSchema>;
export type WorkerEvent = z.infer<typeof WorkerEventSchema>;
export type DagEvent = z.infer<typeof DagEventSchema>;
export type HelloEvent = z.infer<typeof HelloEventSchema>;
export type ResyncEvent = z.infer<typeof ResyncEventSchema>;
export type LiveEvent = z.infer<typeof LiveEventSchema>;
export type LiveEventType = LiveEvent['type'];

/** The event types a client may ask for with `types=`. */
export const FILTERABLE_EVENT_TYPES = ['ti', 'run', 'worker', 'dag'] as const;
export type FilterableEventType = (typeof FILTERABLE_EVENT_TYPES)[number];

/** What a client asks the stream for (the query string of `GET /api/v1/events`). */
export const EventsQuerySchema = z.object({
  dag: z.string().min(1).max(250).optional(),
  run: z.string().min(1).max(250).optional(),
  types: z.string().regex(/^(ti|run|worker|dag)(,(ti|run|worker|dag))*$/, 'a comma-separated list among ti, run, worker, dag').optional(),
}).strict();
export type EventsQuery = z.infer<typeof EventsQuerySchema>;

/** Where the stream is mounted, under the API prefix. */
export const EVENTS_PATH = '/api/v1/events';

/** -1, 0, 1 as `a` is before, equal to or after `b` (two change sequences). */
export function compareSeq(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The key under which a client keeps the latest event of one thing. */
export function eventKey(e: TiEvent | RunEvent | WorkerEvent | DagEvent): string {
  switch (e.type) {
    case 'dag': return e.dagId === null ? 'import_errors' : `dag:${e.dagId}`;
    case 'ti': return `ti:${e.dagId}:${e.runId}:${e.taskId}`;
    case 'run': return `run:${e.dagId}:${e.runId}`;
    case 'worker': return `worker:${e.name}`;
  }
}

/** Parses one SSE `data:` payload; null when it is not a known event (a newer server's, say). */
export function parseLiveEvent(data: string): LiveEvent | null {
  try {
    const parsed = LiveEventSchema.safeParse(JSON.parse(data));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
