import { MAX_OUTPUT_BYTES_LIMIT, type LogBatch, type WorkerEvent } from '@swarmflow/core';
import { z } from 'zod';
import { fastTaskEvent } from './worker-event.fast';

// Broker messages are validated once, here at the edge; the core receives typed values.

/** A time the scheduler turns into a Date and stores: a malformed one must not reach a statement. */
const instant = z.iso.datetime({ offset: true });

const tryRef = { tiId: z.number().int().positive(), tryNumber: z.number().int().positive() };
const runPk = z.number().int().positive().optional();

/** A container try's container and the image digest it runs (`task.container_started`, `task.finished`). */
const containerDetails = z.object({ id: z.string().max(200), gpus: z.array(z.string().max(200)).max(64), runtime: z.string().max(200).nullable() });
const imageRan = z.object({ ref: z.string().max(1000), digest: z.string().max(1000) });

const started = z.object({
  type: z.literal('task.started'), ...tryRef, runPk, worker: z.string(), hostname: z.string(),
  pid: z.number().int().nullable(), at: instant,
});

const logLines = z.array(z.object({ at: z.string(), stream: z.enum(['stdout', 'stderr', 'system']), line: z.string() }));

const finished = z.object({
  type: z.literal('task.finished'), ...tryRef, runPk, worker: z.string(),
  outcome: z.enum(['success', 'failed', 'skipped']), exitCode: z.number().int().nullable(),
  signal: z.string().nullable(), reason: z.string().nullable(), logTail: z.array(z.string()), at: instant,
  startedAt: instant.optional(),
  hostname: z.string().optional(),
  retryable: z.boolean().optional(),
  logs: z.object({ seq: z.number().int(), lines: logLines }).optional(),
  logBatches: z.object({ first: z.number().int(), last: z.number().int(), count: z.number().int().min(0) }).optional(),
  outputs: z.record(z.string(), z.unknown()).refine((o) => JSON.stringify(o).length <= MAX_OUTPUT_BYTES_LIMIT, `outputs over ${MAX_OUTPUT_BYTES_LIMIT} bytes`).optional(),
  image: imageRan.optional(),
  cacheKey: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  cachedFrom: z.object(tryRef).optional(),
  container: containerDetails.optional(),
});

const containerStarted = z.object({
  type: z.literal('task.container_started'), ...tryRef, runPk, worker: z.string(), container: containerDetails, image: imageRan.optional(), at: instant,
});

const heartbeat = z.object({
  type: z.literal('worker.heartbeat'), worker: z.string(), hostname: z.string(), queues: z.array(z.string()),
  concurrency: z.number().int(), gpus: z.number().int().min(0).optional(), running: z.array(z.object(tryRef)),
  ended: z.array(z.object(tryRef)).optional(),
  held: z.array(z.object(tryRef)).optional(),
  handedOver: z.object({ tries: z.array(z.object(tryRef)), until: instant }).optional(),
  state: z.enum(['active', 'draining', 'stopping', 'stopped']), at: instant,
  processed: z.number().int().min(0).optional(), failed: z.number().int().min(0).optional(),
  uptimeMs: z.number().min(0).optional(), version: z.string().max(50).optional(),
  unacked: z.record(z.string(), z.number().int().min(0)).optional(),
});

/** The reference for worker events (worker-event.fast.ts decides the hottest alike, faster). */
export const workerEvent = z.discriminatedUnion('type', [started, containerStarted, finished, heartbeat]);

/** The schema's own test of an instant (its pattern); without one (another zod), every event goes through the schema. */
const instantPattern = (instant as unknown as { _zod?: { def?: { pattern?: unknown } } })._zod?.def?.pattern;
const isInstant = instantPattern instanceof RegExp ? (s: string) => instantPattern.test(s) : null;

const logBatch = z.object({
  ...tryRef, seq: z.number().int(), lines: logLines,
});

/**
 * PostgreSQL's text and jsonb cannot hold U+0000, which a task may well print: every NUL
 * in a worker's strings becomes U+FFFD here, before it could fail the statement that
 * stores it (and with it a whole scheduling iteration, again and again).
 */
export function withoutNul(value: unknown): unknown {
  return hasNul(value) ? replaceNul(value) : value;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  return value !== null && typeof value === 'object' && Object.values(value).some(hasNul);
}

function replaceNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\0/g, '\uFFFD');
  if (Array.isArray(value)) return value.map(replaceNul);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceNul(v)]));
  return value;
}

export function parseWorkerEvent(body: unknown): { ok: true; event: WorkerEvent } | { ok: false; error: string } {
  const fast = isInstant && fastTaskEvent(body, isInstant);
  if (fast) return { ok: true, event: fast };
  const r = workerEvent.safeParse(withoutNul(body));
  return r.success ? { ok: true, event: r.data as WorkerEvent } : { ok: false, error: r.error.message };
}

export function parseLogBatch(body: unknown): { ok: true; batch: LogBatch } | { ok: false; error: string } {
  const r = logBatch.safeParse(withoutNul(body));
  return r.success ? { ok: true, batch: r.data as LogBatch } : { ok: false, error: r.error.message };
}
